"""The web console: machines, executions, the graph with live state colours, history."""
