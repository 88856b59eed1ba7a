"""Errors of the users domain."""

from parley.core.errors import Conflict, NotFound


class UserNotFound(NotFound):
    message = "User not found"


class EmailTaken(Conflict):
    message = "This email is already registered"


class UsernameTaken(Conflict):
    message = "This username is taken"


class PhoneNumberTaken(Conflict):
    message = "This phone number is taken"
