"""The Digital River emulator's logic, shared by its API views, its pages, commands and admin.

- `errors`: Digital River's error envelope as an exception;
- `render`: the JSON of each object, as Digital River's schema describes it;
- `events`: the event outbox and its signed webhook delivery;
- `sources`: payment sources (saving to customers, attaching to checkouts) and the bank's
  sandbox controls (failing charges, expired cards);
- `checkouts`: checkout sessions, checkouts, paying and orders, with the acquisition and
  renewal rules;
- `payments`: what POST /orders checks of the primary source, and the authorization it makes;
- `fulfillments`: POST /fulfillments, which captures (or cancels) what the orders authorised;
- `refunds`: POST /refunds, which gives back captured money (orders, and service invoices);
- `ledger`: every movement of money, one row per item (what tests count);
- `lifecycle`: subscriptions over time (activation, reminders, invoices, failed payments, lapse).

Views are in `views` (API) and `pay_views` (the customer's pages:
the checkout session's pay page and the Drop-in "update payment method" stand-in).
"""
