"""Local HTTP fakes of third-party services, served by aiohttp on 127.0.0.1."""
