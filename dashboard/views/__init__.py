"""Pages of the coordinator dashboard, one module per page. Thin: reads come from selectors (scoped
by access), writes go through the foundation's services via forms."""
