"""Jobs: the status rules, the actions (post, list, apply, accept, move), matching and offers,
status changes across nodes, and the jobs' SQL."""
