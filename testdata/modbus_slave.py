#!/usr/bin/python3
"""Modbus RTU slaves on a serial port, for gatemq's end-to-end tests.

Runs pymodbus's RTU serial server (Debian's python3-pymodbus 3.0, with
python3-serial-asyncio) on PORT, with the values of SPEC, a JSON file:

    [{"slave": 1, "kind": "input", "address": 0, "type": "float32", "value": 230.1}, ...]

Kinds (coil, discrete, holding, input) and types (bool, int16, uint16, and
int32, uint32, float32 with the suffixes -ws, -bs and -le) use gatemq's
names, but the registers are built by pymodbus's BinaryPayloadBuilder: the
byte orders are pymodbus's, not gatemq's. A value is the register's raw
number (no scale). Addresses not in SPEC answer exception 2.

It prints "READY" once serving and "WRITE SLAVE KIND ADDRESS V..." for
each value a master writes, and takes commands on standard input, one a
line:

    silence N                  slave N stops answering (as if absent)
    answer N                   slave N answers again
    get N KIND ADDRESS COUNT   prints "VALUES N KIND ADDRESS V..."
    decode N KIND ADDRESS TYPE prints "DECODED N KIND ADDRESS TYPE VALUE", the
                               registers read back by pymodbus's decoder
"""

import argparse
import asyncio
import json
import sys

from pymodbus.constants import Endian
from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.payload import BinaryPayloadBuilder, BinaryPayloadDecoder
from pymodbus.server import StartAsyncSerialServer
from pymodbus.transaction import ModbusRtuFramer

# gatemq's suffix -> (byteorder, wordorder) of BinaryPayloadBuilder.
ORDERS = {
    "": (Endian.Big, Endian.Big),  # ABCD
    "-ws": (Endian.Big, Endian.Little),  # CDAB
    "-bs": (Endian.Little, Endian.Big),  # BADC
    "-le": (Endian.Little, Endian.Little),  # DCBA
}
KINDS = {"coil": "co", "discrete": "di", "holding": "hr", "input": "ir"}


def registers(typ, value):
    """The registers that hold value as typ, built by pymodbus."""
    for base in ("int32", "uint32", "float32"):
        if typ.startswith(base):
            byteorder, wordorder = ORDERS[typ[len(base):]]
            b = BinaryPayloadBuilder(byteorder=byteorder, wordorder=wordorder)
            {"int32": b.add_32bit_int, "uint32": b.add_32bit_uint, "float32": b.add_32bit_float}[base](value)
            return b.to_registers()
    b = BinaryPayloadBuilder(byteorder=Endian.Big)
    if typ == "int16":
        b.add_16bit_int(int(value))
    elif typ in ("uint16", "bool"):
        b.add_16bit_uint(int(value))
    else:
        raise ValueError(f"unknown type {typ}")
    return b.to_registers()


def decode(typ, regs):
    """The value of typ held in regs, decoded by pymodbus."""
    for base in ("int32", "uint32", "float32"):
        if typ.startswith(base):
            byteorder, wordorder = ORDERS[typ[len(base):]]
            d = BinaryPayloadDecoder.fromRegisters(regs, byteorder=byteorder, wordorder=wordorder)
            return {"int32": d.decode_32bit_int, "uint32": d.decode_32bit_uint,
                    "float32": d.decode_32bit_float}[base]()
    d = BinaryPayloadDecoder.fromRegisters(regs, byteorder=Endian.Big)
    return d.decode_16bit_int() if typ == "int16" else d.decode_16bit_uint()


class LoggedBlock(ModbusSparseDataBlock):
    """A sparse block that prints what a master writes."""

    def __init__(self, slave, kind, values):
        super().__init__(values)
        self.slave, self.kind, self.serving = slave, kind, False

    def setValues(self, address, values, use_as_default=False):  # pylint: disable=invalid-name
        super().setValues(address, values, use_as_default)
        if self.serving:
            vals = values if isinstance(values, list) else [values]
            print("WRITE", self.slave, self.kind, address, *[int(v) for v in vals], flush=True)


def build(spec):
    """The slave contexts of spec, and their blocks by (slave, kind)."""
    values = {}
    for entry in spec:
        slave, kind = int(entry["slave"]), entry["kind"]
        table = values.setdefault(slave, {k: {} for k in KINDS})[kind]
        if kind in ("coil", "discrete"):
            table[int(entry["address"])] = 1 if entry["value"] else 0
        else:
            for i, reg in enumerate(registers(entry["type"], entry["value"])):
                table[int(entry["address"]) + i] = reg
    slaves, blocks = {}, {}
    for slave, tables in values.items():
        kw = {}
        for kind, short in KINDS.items():
            blocks[(slave, kind)] = kw[short] = LoggedBlock(slave, kind, tables[kind])
        slaves[slave] = ModbusSlaveContext(zero_mode=True, **kw)
    return slaves, blocks


def command(line, context, slaves, blocks):
    """Carries out one line of standard input."""
    words = line.split()
    if len(words) == 2 and words[0] == "silence":
        slave = int(words[1])
        if slave in context:
            del context[slave]
        print("SILENCED", slave, flush=True)
    elif len(words) == 2 and words[0] == "answer":
        slave = int(words[1])
        context[slave] = slaves[slave]
        print("ANSWERING", slave, flush=True)
    elif len(words) == 5 and words[0] == "get":
        slave, kind, address, count = int(words[1]), words[2], int(words[3], 0), int(words[4])
        vals = blocks[(slave, kind)].getValues(address, count)
        print("VALUES", slave, kind, address, *[int(v) for v in vals], flush=True)
    elif len(words) == 5 and words[0] == "decode":
        slave, kind, address, typ = int(words[1]), words[2], int(words[3], 0), words[4]
        count = 2 if typ[:5] in ("int32", "uint3", "float") else 1
        value = decode(typ, blocks[(slave, kind)].getValues(address, count))
        print("DECODED", slave, kind, address, typ, repr(value), flush=True)
    elif words:
        print("UNKNOWN", line.strip(), flush=True)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port")
    ap.add_argument("spec")
    ap.add_argument("--baud", type=int, default=9600)
    args = ap.parse_args()
    with open(args.spec, encoding="utf-8") as f:
        slaves, blocks = build(json.load(f))
    context = ModbusServerContext(slaves=dict(slaves), single=False)
    server = await StartAsyncSerialServer(
        context=context, framer=ModbusRtuFramer, port=args.port, baudrate=args.baud,
        bytesize=8, parity="N", stopbits=1, ignore_missing_slaves=True, defer_start=True)
    await server.start()
    for block in blocks.values():
        block.serving = True
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_stdin():
        line = sys.stdin.readline()
        if not line:  # end of input: keep serving until killed
            loop.remove_reader(sys.stdin)
            return
        command(line, context, slaves, blocks)

    try:
        loop.add_reader(sys.stdin, on_stdin)
    except OSError:  # /dev/null or a file: no commands
        pass
    print("READY", flush=True)
    await done


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
