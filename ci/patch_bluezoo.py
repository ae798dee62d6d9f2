"""Fixes two bugs of bluezoo 1.0.2 in place, so it behaves as BlueZ does.

1. The D-Bus signature of ManufacturerData.

BlueZ's API (doc/org.bluez.Device.rst, org.bluez.LEAdvertisement.rst) types
ManufacturerData as a{qv}: the key is the 16-bit company identifier. bluezoo
1.0.2 declares a{sv}, so once an advertisement carries manufacturer data (as
every emulated reader's does) the scanning adapter's device object cannot be
serialised and GetManagedObjects fails for every client ("Message append
error, expected str got 65535"). This rewrites those declarations to a{qv};
it is idempotent and fails loudly if the installed bluezoo no longer looks
like 1.0.2.

2. GATT objects outliving their connection. On connect, bluezoo exports the
peripheral's GATT services under the central's device object; on
disconnect it leaves them there, and the next connection exports new ones
at the same paths beside them. A client that lists the device's services
(btleplug does, keyed by UUID) may then pick a stale object, which fails
once the peripheral's application is gone ("Path, Interface, or Method does
not exist") or reaches an application the peripheral has since replaced.
BlueZ drops a device's remote GATT objects when it disconnects; this makes
bluezoo's Device.disconnect do the same.

Idempotent. Usage: .venv-ble/bin/python ci/patch_bluezoo.py
"""

import importlib.util
import pathlib
import re
import sys

import bluezoo.interfaces

ROOT = pathlib.Path(bluezoo.interfaces.__file__).parent
TARGETS = {
    "Device.py": ["ManufacturerData"],
    "LEAdvertisement.py": ["ManufacturerData", "ScanResponseManufacturerData"],
}

for name, properties in TARGETS.items():
    path = ROOT / name
    text = path.read_text()
    for prop in properties:
        pattern = re.compile(
            r"(property_signature=')a\{[sq]v\}('(?:,\s*flags=[^)]*)?\)\s*def " + prop + r"\()"
        )
        text, count = pattern.subn(r"\1a{qv}\2", text)
        if count != 1:
            sys.exit(f"patch_bluezoo: {path}: property {prop} not found as expected")
    path.write_text(text)
DEVICE = pathlib.Path(bluezoo.interfaces.__file__).parent.parent / "device.py"
MARK = "# readerlab patch: GATT links end with the connection"
ANCHOR = """        await self.peer.Connected.set_async(False)
        await self.Connected.set_async(False)
"""
FIX = f"""        {MARK}
        for link in self.services.values():
            self.peer_adapter.mock.remove_object(link)
        self.services.clear()
        await self.ServicesResolved.set_async(False)
"""
text = DEVICE.read_text()
if MARK not in text:
    if text.count(ANCHOR) != 1:
        sys.exit(f"patch_bluezoo: {DEVICE}: Device.disconnect not found as expected")
    text = text.replace(ANCHOR, ANCHOR + FIX)
    DEVICE.write_text(text)
# Importing bluezoo above compiled these modules; the signature patch keeps
# each file's size, and within the same second its mtime too, so Python
# would go on trusting the stale bytecode (seen: the first run after a fresh
# install failed as if unpatched). Drop the cached bytecode of what we edit.
for path in [ROOT / name for name in TARGETS] + [DEVICE]:
    cached = pathlib.Path(importlib.util.cache_from_source(str(path)))
    cached.unlink(missing_ok=True)
print(f"patch_bluezoo: Device.disconnect drops GATT links in {DEVICE}")
print(f"patch_bluezoo: ManufacturerData is a{{qv}} in {ROOT}")
