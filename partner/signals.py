"""What partner tells the rest of the product without importing it (subscriptions listens).

`subaccount_activated(sender=Subaccount, subaccount=<Subaccount>, actor=<Actor>)` is sent inside the
transaction that records a subaccount as active at its vendor (created, or linked after a lost
answer); a receiver starts what a new subaccount needs (the partner's account settings).
"""

from django.dispatch import Signal

subaccount_activated = Signal()
