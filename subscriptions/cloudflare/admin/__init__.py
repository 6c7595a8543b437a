"""Support staff's view of Cloudflare: each partner's catalog, customers' zones and add-ons, and their actions.

Every action that changes what a customer pays goes through core's confirmation page
(core.admin_confirm) with the dashboard's plan form (subscriptions.forms.PlanChangeForm): the
partner's catalog as choices, component fields with their limits, each selected row's price per
period now and after (or why it is refused), and only Confirm on the previewed values calls the
service, row by row.

Split by topic (issue 14): common (rows, forms' answers, plans offered), actions (the confirmed
action and add page), records (what zone and add-on admins share), zones, addons, catalog.
Importing this package registers the pages (subscriptions/admin.py does).
"""

from subscriptions.cloudflare.admin import addons, catalog, zones  # noqa: F401 - registers the pages
