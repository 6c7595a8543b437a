"""Support staff's view of ACME contracts: state, term, renewal decision, drift, and the operations.

Split by topic (issue 14): actions (forms and confirmed actions), panels and pages (mixed into the
contract admin), contracts (the admin itself), certificates. Importing this package registers the
pages (subscriptions/admin.py does).
"""

from subscriptions.acme.admin import certificates, contracts  # noqa: F401 - registers the pages
