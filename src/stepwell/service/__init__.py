"""The operations of the Step Functions API, implemented once for every front end."""
