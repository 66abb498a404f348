"""One module per page (or family of pages): each turns the zone into :class:`~dashboards.page.Page` objects.

Page modules choose what to show and say it in words; :mod:`dashboards.charts`
decides how a chart, its table and its download look, so every page follows
the same honesty rules.
"""
