"""marshmallow schemas of the API: `workflow` (definitions, instances, tasks, users, system) and
`customers` (the customer hub)."""
