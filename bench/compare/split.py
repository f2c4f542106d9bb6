"""Splits an events Parquet file by host into train and test halves (every other host in
sorted order), keeping only labelled events and lotl's Parquet schema."""
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

src, train, test = sys.argv[1:4]
t = pq.read_table(src)


def plain(ty):  # Arrow's filter has no string_view kernel (polars writes string_view)
    if pa.types.is_string_view(ty):
        return pa.large_string()
    if pa.types.is_list(ty) or pa.types.is_large_list(ty):
        return pa.large_list(plain(ty.value_type))
    return ty


meta = t.schema.metadata
t = t.cast(pa.schema([pa.field(f.name, plain(f.type), f.nullable) for f in t.schema], metadata=meta))
t = t.filter(pc.is_in(t["lotl.label"], value_set=pa.array(["benign", "malicious"])))
host = t["host.name"]
hosts = sorted(set(host.to_pylist()))
test_hosts = hosts[1::2]
is_test = pc.is_in(host, value_set=pa.array(test_hosts))
pq.write_table(t.filter(pc.invert(is_test)).replace_schema_metadata(meta), train)
pq.write_table(t.filter(is_test).replace_schema_metadata(meta), test)
print(f"train {t.num_rows - pc.sum(is_test).as_py()} events, test {pc.sum(is_test).as_py()} events, {len(hosts)} hosts")
