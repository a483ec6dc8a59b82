"""Fiscal-year reports (issue 21, DESIGN §11.6): the figures the city reports each year on 重層的支援
and 孤独・孤立 — consultations, handoffs, acceptance time, はざま cases, closures — scoped by role, as
JSON, CSV, Excel and a printable page with charts. Definitions: docs/reports.md."""
