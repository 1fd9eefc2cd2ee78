"""CSV export: `trajectory,t,<state names>`, exact round trip."""

import dynsim


@dynsim.hookimpl
def dynsim_register_exporters(register):
    register(dynsim.Exporter(
        name="csv", extensions=[".csv"], write=dynsim.write_csv,
        description="CSV with header trajectory,t,<states>; floats round-trip exactly"))
