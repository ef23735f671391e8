from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    # Numbered after the other round-2 migrations (0003 keys, 0004 webhooks); the dependency is fixed at merge.
    dependencies = [('models', '0004_webhooks')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Lead',
            name='step_failures',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Lead',
            name='failing_step',
            field=fields.BigIntField(null=True),
        ),
    ]
