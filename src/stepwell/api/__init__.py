"""Reserved layer: see DESIGN.md."""
