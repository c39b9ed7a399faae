"""The work behind the Octavia API, one module per resource family.

Routes (``hydria.api.routes``) parse a request and shape the answer; the
services here do everything between: visibility (``lookup``), the checks
across resources, defaults and row building from the resource descriptions
(``hydria.core.resources``), children, status transitions (PENDING_*, the
generation bump), quota reservation, and paged queries (``listing``). They
take plain values or validated request bodies and a ``RequestContext``
(project, admin or not), return plain dicts shaped by the descriptions
(``shape``), and raise the errors of ``hydria.core.errors``.

Every write runs in ``unit.write``: one transaction, the load balancers it
touched notified after the commit. The fully populated create (``graph``)
calls the same functions the single creates call.
"""
