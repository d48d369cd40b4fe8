"""Keys an identity provider would hold, tokens signed with them, and a loopback HTTP
server publishing them as the provider does (discovery document and key set)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

AUDIENCE = "urn:presence"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        """The public half as a JWK, with ``kid``, ``alg`` and ``use``."""
        public = self.private.public_key()
        algorithm: Any = {
            "RS256": RSAAlgorithm, "PS256": RSAPSSAlgorithm, "ES256": ECAlgorithm,
            "EdDSA": OKPAlgorithm}[self.alg]
        doc: dict[str, Any] = json.loads(algorithm.to_jwk(public))
        return {**doc, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg,
                          headers={"kid": self.kid, **header})


def new_key(kid: str, alg: str = "RS256") -> SigningKey:
    private: Any
    if alg in ("RS256", "PS256"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return SigningKey(kid, alg, private)


@dataclass
class KeyServer:
    """Serves ``/.well-known/openid-configuration`` and ``/jwks.json`` on loopback;
    ``published`` is what the key set holds, ``requests`` counts key set fetches."""

    published: list[SigningKey] = field(default_factory=list)
    requests: int = 0
    port: int = 0
    _http: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start answering (on the same port as before after :meth:`stop`)."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body: dict[str, Any]
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": owner.issuer, "jwks_uri": owner.issuer + "/jwks.json"}
                elif self.path == "/jwks.json":
                    owner.requests += 1
                    body = {"keys": [k.jwk() for k in owner.published]}
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop answering: fetches are refused (connection refused)."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


def claims(role: Any = "agent", sub: str = "A1", *, now: float, ttl: float = 3600,
           issuer: str, audience: str = AUDIENCE, **extra: Any) -> dict[str, Any]:
    """Claims of a provider's access token at ``now`` (epoch s)."""
    return {"iss": issuer, "aud": audience, "sub": sub, "role": role, "iat": int(now),
            "exp": int(now + ttl), **extra}

