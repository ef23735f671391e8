from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_suppressions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActivitySlot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('models.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='activity_slots', on_delete=OnDelete.CASCADE)),
                ('slot_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('shard', fields.SmallIntField(default=0)),
                ('profile_visits', fields.IntField(default=0, db_default=0)),
                ('invitations_sent', fields.IntField(default=0, db_default=0)),
                ('invitations_accepted', fields.IntField(default=0, db_default=0)),
                ('linkedin_messages_sent', fields.IntField(default=0, db_default=0)),
                ('emails_sent', fields.IntField(default=0, db_default=0)),
                ('emails_clicked', fields.IntField(default=0, db_default=0)),
                ('emails_bounced', fields.IntField(default=0, db_default=0)),
                ('replies', fields.IntField(default=0, db_default=0)),
                ('positive_replies', fields.IntField(default=0, db_default=0)),
                ('unsubscribes', fields.IntField(default=0, db_default=0)),
                ('tasks_completed', fields.IntField(default=0, db_default=0)),
                ('errors', fields.IntField(default=0, db_default=0)),
            ],
            options={'table': 'activity_slot', 'app': 'models', 'unique_together': (('campaign_id', 'slot_start', 'shard'),), 'indexes': [Index(fields=['shard', 'slot_start'])], 'pk_attr': 'id', 'table_description': "Campaign.series pre-counted: one campaign's SeriesPoint counts in one 15-minute slot (UTC)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Lead',
            name='reply_step_id',
            field=fields.BigIntField(null=True, description="The step Campaign.funnel counts this lead's reply under (the last action performed at or before its"),
        ),
    ]
