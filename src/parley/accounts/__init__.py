"""Accounts businesses can trust: verified email addresses, two-factor sign-in (TOTP) and
notices of sign-ins from new devices."""
