"""Which addresses an outbound look-up may reach, as a value the configuration builds.

Kept apart from :mod:`sources.outbound` (which connects, and so loads requests and
urllib3) so that reading the configuration stays light.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 6052 section 2.1: the well-known NAT64 prefix carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Carrier-grade NAT space (RFC 6598): not global, and not covered by is_private in 3.11.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo client, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: Address) -> str | None:
    """Why a look-up must not reach ``address`` ("loopback", "private" ...), or None for a public one."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return address_kind(inner)
    for kind, test in (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
                       ("link-local", address.is_link_local), ("multicast", address.is_multicast),
                       ("reserved", address.is_reserved), ("private", address.is_private)):
        if test:
            return kind
    if address in _SHARED or not address.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which hosts a look-up may reach: public addresses, and what the operator listed.

    A host name in ``hosts`` may resolve to anything (an intranet's image server); an
    address in one of ``networks`` may be reached whatever name led to it.
    """

    hosts: frozenset[str] = frozenset()          # lower case, no trailing dot
    networks: tuple[Network, ...] = ()

    def refusal(self, host: str, address: Address) -> str | None:
        """Why connecting to ``address`` (which ``host`` resolved to) is refused, or None."""
        if host.lower().rstrip(".").strip("[]") in self.hosts:
            return None
        kind = address_kind(address)
        if kind is None:
            return None
        for candidate in filter(None, (address, _embedded_ipv4(address))):
            if any(candidate.version == net.version and candidate in net for net in self.networks):
                return None
        shown = host if host.strip("[]") == str(address) else f"{host} ({address})"
        inner = _embedded_ipv4(address)
        what = f"a {kind} address" if inner is None else f"the IPv6 form of {inner}, a {kind} address"
        return f"refused to connect to {shown}: {what}"
