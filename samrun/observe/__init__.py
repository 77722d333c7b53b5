"""What samrun shows: function logs, console tables, (later) metrics and traces."""
