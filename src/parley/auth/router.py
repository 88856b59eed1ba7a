"""HTTP routes of this domain."""

from fastapi import APIRouter

router = APIRouter()
