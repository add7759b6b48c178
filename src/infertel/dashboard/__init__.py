"""infertel's dashboard: server-rendered pages, a JSON API and a Grafana dashboard over the local store."""
