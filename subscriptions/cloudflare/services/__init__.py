"""Cloudflare zones, zone plans and account add-ons: one service per operation.

Each checks the actor (Can.MANAGE_CLOUDFLARE), the partner's catalog and the rule, records the
request and an operation that carries the change; cloudflare/handlers.py calls Cloudflare with the
partner's tenant token in a task. A record shows what Cloudflare confirmed, never what was only
asked for: a refused change leaves it as it was and says why in its `refusal_*` fields.

Split by topic (issue 14): catalog, zones, addons, and common (what both share). The faces call
`subscriptions.cloudflare.services` as before: the public services are imported here. For each
change one planner (plan_zone_change, plan_addon_purchase, plan_addon_change) does the checks and
the price; the preview returns its plan and the commit sends the same plan (send_planned).
"""

from subscriptions.cloudflare.services.addons import (
    ADDON_ACTIONS,
    add_addon,
    cancel_addon,
    change_addon,
    plan_addon_change,
    plan_addon_purchase,
    preview_addon_change,
    preview_addon_purchase,
    sync_addons,
)
from subscriptions.cloudflare.services.catalog import save_catalog_plan
from subscriptions.cloudflare.services.common import (
    current_of,
    failed_operation_of,
    pending_change,
    queue_scheduled_syncs,
    retry_failed_operation,
)
from subscriptions.cloudflare.services.zones import (
    ZONE_ACTIONS,
    add_zone,
    change_zone_components,
    clean_zone_name,
    downgrade_zone_plan,
    plan_zone_change,
    preview_zone_change,
    sync_zone,
    upgrade_zone_plan,
)

__all__ = [
    "ADDON_ACTIONS",
    "ZONE_ACTIONS",
    "add_addon",
    "add_zone",
    "cancel_addon",
    "change_addon",
    "change_zone_components",
    "clean_zone_name",
    "current_of",
    "downgrade_zone_plan",
    "failed_operation_of",
    "pending_change",
    "plan_addon_change",
    "plan_addon_purchase",
    "plan_zone_change",
    "preview_addon_change",
    "preview_addon_purchase",
    "preview_zone_change",
    "queue_scheduled_syncs",
    "retry_failed_operation",
    "save_catalog_plan",
    "sync_addons",
    "sync_zone",
    "upgrade_zone_plan",
]
