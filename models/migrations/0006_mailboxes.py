from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ActivityKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_lead_step_failures')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InboundMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('identity', fields.ForeignKeyField('models.Identity', source_field='identity_id', db_constraint=True, to_field='id', related_name='inbound_messages', on_delete=OnDelete.CASCADE)),
                ('message_id', fields.CharField(description="The message's own Message-ID (`<local@domain>`), or `sha256:<hex>` of its bytes when it has none.", max_length=255)),
                ('kind', fields.CharField(description='What the classifier made of it (mail.classify.Kind).', max_length=16)),
                ('lead', fields.ForeignKeyField('models.Lead', source_field='lead_id', null=True, db_constraint=True, to_field='id', related_name='inbound_messages', on_delete=OnDelete.SET_NULL)),
                ('outcome', fields.CharField(description='What it did: "applied", or why nothing ("refused: ...", "no lead", "ignored").', max_length=300)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'inbound_message', 'app': 'models', 'unique_together': (('identity_id', 'message_id'),), 'pk_attr': 'id', 'table_description': "One message read from an identity's inbox, inserted in the same transaction as its outcome."},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Activity',
            name='kind',
            field=fields.CharEnumField(description='PROFILE_VISITED: PROFILE_VISITED\nPOST_LIKED: POST_LIKED\nINVITATION_SENT: INVITATION_SENT\nINVITATION_ACCEPTED: INVITATION_ACCEPTED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nLINKEDIN_MESSAGE_SENT: LINKEDIN_MESSAGE_SENT\nINMAIL_SENT: INMAIL_SENT\nEMAIL_SENT: EMAIL_SENT\nEMAIL_CLICKED: EMAIL_CLICKED\nEMAIL_BOUNCED: EMAIL_BOUNCED\nREPLY_RECEIVED: REPLY_RECEIVED\nTASK_CREATED: TASK_CREATED\nTASK_COMPLETED: TASK_COMPLETED\nLEAD_ERROR: LEAD_ERROR\nLEAD_FINISHED: LEAD_FINISHED\nOUT_OF_OFFICE: OUT_OF_OFFICE\nBLOCKED: BLOCKED', enum_type=ActivityKind, max_length=32),
        ),
        ops.AddIndex(
            model_name='Activity',
            index=Index(fields=['external_id']),
        ),
        ops.AddField(
            model_name='Campaign',
            name='track_clicks',
            field=fields.BooleanField(default=True, description='Links in its emails go through the click tracker (mail.outbound).'),
        ),
        ops.AddField(
            model_name='Identity',
            name='imap_host',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='Identity',
            name='imap_last_uid',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Identity',
            name='imap_uidvalidity',
            field=fields.BigIntField(null=True, description="The inbox reader's cursor (mail.imap.MailboxCursor): UIDs above it are new."),
        ),
        ops.AddField(
            model_name='Identity',
            name='imap_url_secret',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Identity',
            name='mailbox_sync_claimed_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Identity',
            name='mailbox_sync_due_at',
            field=fields.DatetimeField(null=True, description='When the scheduler next reads the inbox (null: nothing to read), and its lease on a read in progress.', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Identity',
            name='mailbox_sync_error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Identity',
            name='mailbox_sync_failures',
            field=fields.IntField(default=0, description="Reads failed in a row: the backoff's exponent."),
        ),
        ops.AddField(
            model_name='Identity',
            name='mailbox_synced_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Identity',
            name='smtp_host',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='Identity',
            name='smtp_url_secret',
            field=fields.TextField(null=True, description='Its own mailbox (domain.md revision 2): each URL encrypted whole (mail.secrets.PasswordBox), so the', unique=False),
        ),
        ops.AddIndex(
            model_name='Identity',
            index=Index(fields=['mailbox_sync_due_at']),
        ),
    ]
