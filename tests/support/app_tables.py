"""An 'application' module for --import tests: tables with odd and failing records."""


import zlmdb


class Fragile:
    def __init__(self, data):
        self.data = data

    def marshal(self):
        if self.data.get("boom"):
            raise ValueError("marshal() cannot handle boom")
        return {"n": self.data["n"], "doubled": self.data["n"] * 2}

    @staticmethod
    def parse(data):
        return Fragile(data)


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000a1", marshal=lambda o: o.data, parse=Fragile.parse)
class FragileTable(zlmdb.MapOidCbor):
    """marshal() raises for some records"""


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000a2", marshal=lambda o: o, parse=lambda d: d)
class Strings(zlmdb.MapStringCbor):
    """string keys; some are not UTF-8"""


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000a3", marshal=lambda o: o, parse=lambda d: d)
class Pairs(zlmdb.MapUuidUuidCbor):
    """uuid pairs"""


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000a4")
class Pickles(zlmdb.MapOidPickle):
    """pickled values"""


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000a5")
class ByName(zlmdb.MapStringUuid):
    """index"""
