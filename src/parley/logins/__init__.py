"""Login sessions: the devices a user is signed in on, and what a request's token may do."""
