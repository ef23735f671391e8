from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ActivityKind, LeadSubstatus, SuppressionReason
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_mailboxes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Suppression',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='suppressions', on_delete=OnDelete.CASCADE)),
                ('value', fields.CharField(max_length=320)),
                ('reason', fields.CharEnumField(description='UNSUBSCRIBED: UNSUBSCRIBED\nBOUNCED: BOUNCED\nCOMPLAINT: COMPLAINT\nMANUAL: MANUAL', enum_type=SuppressionReason, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'suppression', 'app': 'models', 'unique_together': (('workspace_id', 'value'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Activity',
            name='kind',
            field=fields.CharEnumField(description='PROFILE_VISITED: PROFILE_VISITED\nPOST_LIKED: POST_LIKED\nINVITATION_SENT: INVITATION_SENT\nINVITATION_ACCEPTED: INVITATION_ACCEPTED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nLINKEDIN_MESSAGE_SENT: LINKEDIN_MESSAGE_SENT\nINMAIL_SENT: INMAIL_SENT\nEMAIL_SENT: EMAIL_SENT\nEMAIL_CLICKED: EMAIL_CLICKED\nEMAIL_BOUNCED: EMAIL_BOUNCED\nREPLY_RECEIVED: REPLY_RECEIVED\nTASK_CREATED: TASK_CREATED\nTASK_COMPLETED: TASK_COMPLETED\nLEAD_ERROR: LEAD_ERROR\nLEAD_FINISHED: LEAD_FINISHED\nOUT_OF_OFFICE: OUT_OF_OFFICE\nBLOCKED: BLOCKED\nUNSUBSCRIBED: UNSUBSCRIBED', enum_type=ActivityKind, max_length=32),
        ),
        ops.AddField(
            model_name='Identity',
            name='bounce_guard_at',
            field=fields.DatetimeField(null=True, description='The bounce guard (engine/bounce_guard.py): when too many of its recent emails bounced its email steps', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Identity',
            name='bounce_guard_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='Lead',
            name='substatus',
            field=fields.CharEnumField(null=True, description='SCHEDULED: SCHEDULED\nIDENTITY_LIMITS: IDENTITY_LIMITS\nWAITING_TO_CONNECT: WAITING_TO_CONNECT\nMONTHLY_CONVERSATION_LIMIT: MONTHLY_CONVERSATION_LIMIT\nCONNECTION_WITHDRAWN: CONNECTION_WITHDRAWN\nOUTSIDE_WORKING_HOURS: OUTSIDE_WORKING_HOURS\nWAITING_FOR_TASK: WAITING_FOR_TASK\nPAUSED_MANUALLY: PAUSED_MANUALLY\nCAMPAIGN_PAUSED: CAMPAIGN_PAUSED\nMISSING_EMAIL: MISSING_EMAIL\nEMAIL_DISCONNECTED: EMAIL_DISCONNECTED\nLINKEDIN_DISCONNECTED: LINKEDIN_DISCONNECTED\nSYSTEM_ERROR: SYSTEM_ERROR\nINMAIL_CREDITS_LIMIT: INMAIL_CREDITS_LIMIT\nINVALID_IDENTITY_EMAIL: INVALID_IDENTITY_EMAIL\nMISSING_CONTACT_EMAIL: MISSING_CONTACT_EMAIL\nLEAD_NOT_SCRAPED: LEAD_NOT_SCRAPED\nIDENTITY_MISCONFIGURATION: IDENTITY_MISCONFIGURATION\nMISSING_EMAIL_SUBJECT: MISSING_EMAIL_SUBJECT\nMISSING_INMAIL_SUBJECT: MISSING_INMAIL_SUBJECT\nMESSAGE_TOO_LONG: MESSAGE_TOO_LONG\nCOMPLETED: COMPLETED\nBOUNCED: BOUNCED\nBLOCKED: BLOCKED\nOUT_OF_OFFICE: OUT_OF_OFFICE\nNOT_CONNECTED: NOT_CONNECTED\nUNSUBSCRIBED: UNSUBSCRIBED', enum_type=LeadSubstatus, max_length=32),
        ),
        ops.AddField(
            model_name='Lead',
            name='em_unsubscribed',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
