"""Turn the plain database URLs of the configuration into async SQLAlchemy URLs."""

from sqlalchemy.engine import URL, make_url

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+asyncmy",
    "mariadb": "mysql+asyncmy",
}


def async_url(database_url: str) -> URL:
    """Return the URL with an async driver, keeping an explicit driver when one is given."""
    url = make_url(database_url)
    if "+" in url.drivername:
        return url
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError("DATABASE_URL must be a sqlite, postgresql or mysql URL")
    url = url.set(drivername=driver)
    if driver.startswith("mysql") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url
