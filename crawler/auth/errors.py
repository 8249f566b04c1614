"""The authentication layer's one exception, a branch of ``crawler.errors.CrawlerError``.

::

    CrawlerError
    └── AuthError      credentials were rejected, or the identity service could not be reached

Invalid or incomplete credential *settings* are ``ConfigError`` (raised before any request).
"""

from __future__ import annotations

from crawler.errors import CrawlerError


class AuthError(CrawlerError):
    """Raised when a token cannot be obtained (HTTP error, bad body, network failure).

    The message names the identity endpoint, the project, the HTTP status and the service's
    own error text; it never contains a password, token or key.
    """

    exit_code = 2
