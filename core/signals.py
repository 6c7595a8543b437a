"""What core tells the apps without importing them (apps listen, core knows none of them).

`operation_gave_up(sender=Operation, operation=<Operation>, target=<object>)` is sent once a vendor
operation has failed for good, after the failure is committed; partner mails support staff.
"""

from django.dispatch import Signal

operation_gave_up = Signal()
