from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ActivityKind, ClaimState
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_webhook_in_flight')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActionClaim',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dedupe_key', fields.CharField(unique=True, description="(lead, step, attempt), engine/apply.action_key: a second delivery's insert is refused by the database.", max_length=128)),
                ('lead', fields.ForeignKeyField('models.Lead', source_field='lead_id', db_constraint=True, to_field='id', related_name='action_claims', on_delete=OnDelete.CASCADE)),
                ('step_id', fields.BigIntField(null=True, description='No foreign key: the claim outlives an edit of the sequence, as the key naming the step does.')),
                ('kind', fields.CharEnumField(description='PROFILE_VISITED: PROFILE_VISITED\nPOST_LIKED: POST_LIKED\nINVITATION_SENT: INVITATION_SENT\nINVITATION_ACCEPTED: INVITATION_ACCEPTED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nLINKEDIN_MESSAGE_SENT: LINKEDIN_MESSAGE_SENT\nINMAIL_SENT: INMAIL_SENT\nEMAIL_SENT: EMAIL_SENT\nEMAIL_CLICKED: EMAIL_CLICKED\nEMAIL_BOUNCED: EMAIL_BOUNCED\nREPLY_RECEIVED: REPLY_RECEIVED\nTASK_CREATED: TASK_CREATED\nTASK_COMPLETED: TASK_COMPLETED\nLEAD_ERROR: LEAD_ERROR\nLEAD_FINISHED: LEAD_FINISHED\nOUT_OF_OFFICE: OUT_OF_OFFICE\nBLOCKED: BLOCKED\nUNSUBSCRIBED: UNSUBSCRIBED', enum_type=ActivityKind, max_length=32)),
                ('external_id', fields.CharField(null=True, description="The provider's id chosen before sending (an email's Message-ID), recorded on the activity once sent.", max_length=255)),
                ('claimed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('state', fields.CharEnumField(description='SENDING: SENDING\nSENT: SENT\nINTERRUPTED: INTERRUPTED', enum_type=ClaimState, max_length=16)),
            ],
            options={'table': 'action_claim', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
