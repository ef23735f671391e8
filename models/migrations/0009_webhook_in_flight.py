from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_activity_slots')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='WebhookDelivery',
            index=Index(fields=['webhook_id', 'status', 'claimed_until']),
        ),
    ]
