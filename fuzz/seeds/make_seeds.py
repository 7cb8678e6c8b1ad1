#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (fuzz/corpus/<target>/seed-*).

Seeds are valid requests and pages in the documented wire shapes (docs/sync-protocol.md): a
small town (areas, a building, a household, a resident with a valid ID number, a hazard and its
steps) as a push, a pull page and a snapshot page, plus enrollments and query strings. The fuzzer
mutates them; run again after a wire change: python3 fuzz/seeds/make_seeds.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")
DEVICE = "0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01"  # the device the server target enrolls
NOW_MS = 1_750_000_000_000


def uid(n):
    return f"0193a5c2-0000-7000-8000-{n:012x}"


def id_number(first17):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(first17, weights))
    return first17 + "10X98765432"[total % 11]


counter = [0]


def stamp():
    counter[0] += 1
    return {"hlc": (NOW_MS << 16) | counter[0], "device": DEVICE}


def op(n, entity, entity_id, body):
    return {"id": uid(0x1000 + n), "stamp": stamp(), "entity": entity,
            "entity_id": entity_id, "body": body}


def set_body(fields):
    return {"type": "set", "fields": {k: {"value": v} for k, v in fields.items()}}


def event(n, case_id, action):
    return {"type": "case_event", "event": {
        "id": uid(0x2000 + n), "case_id": case_id, "stamp": stamp(), "actor": None,
        "action": action}}


def town():
    ops, parent = [], None
    for i, (level, code, name) in enumerate([
            ("district", "330106", "西湖区"), ("subdistrict", "330106001", "北山街道"),
            ("grid_layer", "330106001L01", "第一网层"), ("community", "330106001001", "梅花碑社区"),
            ("grid", "330106001001001", "梅花碑第一网格")]):
        ops.append(op(i, "area", uid(i + 1), set_body(
            {"level": level, "code": code, "name": name, "parent_id": parent})))
        parent = uid(i + 1)
    grid, building, household, resident, case = parent, uid(10), uid(11), uid(12), uid(13)
    ops.append(op(10, "building", building, set_body({
        "address_code": "3301060010010010001", "address": "梅花碑社区1幢", "kind": "residential",
        "grid_id": grid, "micro_grid_id": None, "head_user_id": None, "station_id": None,
        "position": {"lat": 30.27, "lon": 120.15}})))
    ops.append(op(11, "household", household, set_body({
        "building_id": building, "unit": "1-301", "kind": "rental", "phone": "13800138000",
        "archived": False})))
    ops.append(op(12, "resident", resident, set_body({
        "household_id": household, "name": "住户1", "id_number": id_number("33010619800101001"),
        "phone": None, "key_groups": ["elderly_living_alone"], "last_visit_ms": None,
        "archived": False})))
    ops.append(op(13, "case", case, set_body({
        "kind": "hazard", "title": "楼道电瓶车充电", "category": "ebike_indoors",
        "severity": "high", "area_id": grid, "building_id": building, "household_id": None,
        "position": None, "opened_at_ms": NOW_MS, "patrol_id": None})))
    for n, action in enumerate([
            {"type": "assign", "assignee": None, "deadline_ms": NOW_MS + 3_600_000},
            {"type": "fix"}, {"type": "note", "text": "已联系房东"},
            {"type": "recheck", "passed": True}, {"type": "resolve"}]):
        ops.append(op(20 + n, "case", case, event(n, case, action)))
    ops.append(op(30, "household", household, {"type": "set", "fields": {
        "phone": {"value": "13900139000", "base": ops[6]["stamp"]}}}))
    ops.append(op(31, "resident", resident, {"type": "delete"}))
    return ops


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"seed-{name}"), "wb") as f:
        f.write(data)


def main():
    ops = town()
    j = lambda v: json.dumps(v, ensure_ascii=False).encode()
    # server_requests: first byte 20 = push with a token, 1 = enroll, 22 = pull, 23 = snapshot,
    # 24 = any path (see fuzz_targets/server_requests.rs).
    write("server_requests", "push-town", bytes([20]) + j({"ops": ops}))
    write("server_requests", "push-one", bytes([20]) + j({"ops": ops[6:7]}))
    write("server_requests", "push-empty", bytes([20]) + b'{"ops":[]}')
    write("server_requests", "enroll", bytes([1]) + j({
        "code": "K7QM-2XWD-9HTR", "device_id": uid(0x99), "device_name": "张伟的手机"}))
    write("server_requests", "pull", bytes([22]) + b"after=0&limit=50&wait=0")
    write("server_requests", "pull-wait", bytes([22]) + b"after=3&wait=30")
    write("server_requests", "snapshot", bytes([23]) + f"after={uid(3)}&limit=2".encode())
    write("server_requests", "path", bytes([24]) + b"v2/pull?after=0")
    # device_apply: first byte 0 = pull page JSON, 1 = snapshot page JSON, 2 = built operations.
    page = {"ops": [{"seq": i + 1, "op": o} for i, o in enumerate(ops)],
            "next": len(ops), "more": False, "server_time_ms": NOW_MS + 1000}
    write("device_apply", "pull-town", bytes([0]) + j(page))
    records = []
    for o in ops:
        if o["body"]["type"] != "set":
            continue
        records.append({"kind": o["entity"], "id": o["entity_id"],
                        "fields": {k: v["value"] for k, v in o["body"]["fields"].items()},
                        "stamps": {k: o["stamp"] for k in o["body"]["fields"]},
                        "tombstone": None})
    events = [o["body"]["event"] for o in ops if o["body"]["type"] == "case_event"]
    write("device_apply", "snapshot-town", bytes([1]) + j({
        "seq": len(ops), "records": records, "events": events, "next_after": None,
        "server_time_ms": NOW_MS + 1000}))
    for n, length in enumerate([16, 64, 256, 1024]):
        write("device_apply", f"built-{n}", bytes([2]) + bytes((i * 37 + n) % 256 for i in range(length)))


main()
