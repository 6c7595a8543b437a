"""The Digital River emulator's logic, shared by its API views, its pay page, commands and admin.

- `errors`: Digital River's error envelope as an exception;
- `render`: the JSON of each object, as Digital River's schema describes it;
- `events`: the event outbox and its signed webhook delivery;
- `checkouts`: checkout sessions, checkouts, paying, orders and capture, with the acquisition
  and renewal rules;
- `lifecycle`: subscriptions over time (activation, renewal, reminders, failed payments, lapse).

Views are in vendors.sandbox.views.digitalriver (API) and digitalriver_pay (the pay page).
"""
