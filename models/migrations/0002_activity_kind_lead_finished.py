from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ActivityKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Activity',
            name='kind',
            field=fields.CharEnumField(description='PROFILE_VISITED: PROFILE_VISITED\nPOST_LIKED: POST_LIKED\nINVITATION_SENT: INVITATION_SENT\nINVITATION_ACCEPTED: INVITATION_ACCEPTED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nLINKEDIN_MESSAGE_SENT: LINKEDIN_MESSAGE_SENT\nINMAIL_SENT: INMAIL_SENT\nEMAIL_SENT: EMAIL_SENT\nEMAIL_CLICKED: EMAIL_CLICKED\nEMAIL_BOUNCED: EMAIL_BOUNCED\nREPLY_RECEIVED: REPLY_RECEIVED\nTASK_CREATED: TASK_CREATED\nTASK_COMPLETED: TASK_COMPLETED\nLEAD_ERROR: LEAD_ERROR\nLEAD_FINISHED: LEAD_FINISHED', enum_type=ActivityKind, max_length=32),
        ),
    ]
