"""Port: the people running Arbees: alerts that reach them (alerts.py), the local control socket
that steers a running engine (control.py), the read-only dashboard (dashboard.py), and the views
`status`, `timeline` and `report` print and the dashboard shows (*_view.py, charts.py)."""
