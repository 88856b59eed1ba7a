"""Sign-up, sign-in, tokens, login sessions and password recovery."""
