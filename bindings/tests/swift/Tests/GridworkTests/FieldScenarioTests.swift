// The field scenario through the Swift bindings: a real gridwork-server (its binary and a
// scratch folder come in GRIDWORK_SERVER and GRIDWORK_SCRATCH), two enrolled phones, offline
// edits that conflict, an alarm reaching the gridworker through the live wait, and the crew's
// arrival. The same story as bindings/tests/kotlin/FieldScenario.kt, told in Swift.
import Foundation
import XCTest
import Gridwork

/// A gridwork-server on a free loopback port, with its SQLite file, for one scenario.
final class TestServer {
    let binary: String
    let db: String
    let process = Process()
    let url: String

    init(binary: String, scratch: URL, tls: String? = nil) throws {
        self.binary = binary
        db = scratch.appendingPathComponent("server.db").path
        process.executableURL = URL(fileURLWithPath: binary)
        let tlsArgs = tls.map { ["--tls-cert", "\($0)/cert.pem", "--tls-key", "\($0)/key.pem"] } ?? []
        process.arguments = ["serve", "--db", db, "--listen", "127.0.0.1:0"] + tlsArgs
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // The server prints `listening on http://ADDR` once it listens.
        var seen = ""
        while !seen.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        guard let line = seen.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) else {
            throw NSError(domain: "TestServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "the server did not start"])
        }
        url = String(line.dropFirst("listening on ".count)).trimmingCharacters(in: .whitespaces)
    }

    /// Runs `gridwork-server admin ...` on the same file and returns what it printed.
    func admin(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["admin"] + args + ["--db", db]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "admin \(args[0])")
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Creates a user and returns a one-time enrollment code for them.
    func enrollmentCode(name: String, role: String, scope: String?) throws -> String {
        let scopeArgs = scope.map { ["--scope", $0] } ?? []
        let user = try admin(["create-user", "--name", name, "--role", role] + scopeArgs)
        return try admin(["enrollment-code", "--user", user])
    }

    func stop() {
        // Not SIGTERM: a graceful shutdown waits for the phones' idle keep-alive connections,
        // and the clients are still open when the test ends.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Remembers every sync state a phone went through. Called on a background thread, hence the
/// lock and `Sendable`.
final class RecordingObserver: SyncObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [SyncState] = []
    private var steps: [SyncProgress] = []

    var states: [SyncState] {
        lock.lock(); defer { lock.unlock() }
        return seen
    }

    var progress: [SyncProgress] {
        lock.lock(); defer { lock.unlock() }
        return steps
    }

    func onState(state: SyncState) {
        lock.lock(); defer { lock.unlock() }
        seen.append(state)
    }

    func onProgress(progress: SyncProgress) {
        lock.lock(); defer { lock.unlock() }
        steps.append(progress)
    }
}

/// Remembers every upload progress a phone reported.
final class RecordingUploads: UploadObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var list: [AttachmentProgress] = []
    var seen: [AttachmentProgress] { lock.lock(); defer { lock.unlock() }; return list }
    func onUpload(progress: AttachmentProgress) throws {
        lock.lock(); defer { lock.unlock() }
        list.append(progress)
    }
}

/// A small camera JPEG (24×16 px) whose EXIF carries a GPS position, a time, an orientation and
/// a camera serial number ("SERIAL-8675309").
let cameraJpeg: Data = {
    let hex = ""
    + "ffd8ffe000104a46494600010200000100010000fffe00176f776e65723a2053455249414c2d38363735333039ffe101"
    + "0c4578696600004d4d002a000000080004010f0002000000090000009e01120003000000010006000087690004000000"
    + "010000003e8825000400000001000000680000000000039003000200000014000000a89011000200000007000000bca4"
    + "3100020000000f000000c400000000000400010002000000024e0000000002000500000003000000d400030002000000"
    + "02450000000004000500000003000000ec00000000534e4f4f5043414d0000323032363a30353a30342030393a33303a"
    + "3135002b30383a3030000053455249414c2d3836373533303900000000001e000000010000000f000000010000002400"
    + "000001000000780000000100000009000000010000000000000001ffc00011080010001803011100021101031101ffdb"
    + "0043000302020302020303030304030304050805050404050a070706080c0a0c0c0b0a0b0b0d0e12100d0e110e0b0b10"
    + "16101113141515150c0f171816141812141514ffdb00430103040405040509050509140d0b0d14141414141414141414"
    + "14141414141414141414141414141414141414141414141414141414141414141414141414141414ffc4001f00000105"
    + "01010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d0102"
    + "0300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a"
    + "3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92"
    + "939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4"
    + "e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc4001f0100030101010101010101010000000000000102030405060708090a"
    + "0bffc400b51100020102040403040705040400010277000102031104052131061241510761711322328108144291a1b1"
    + "c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a"
    + "636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6"
    + "b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002"
    + "110311003f00fcb48e1ad121464598e1ade28e98c8b31c15d11474c6432382b9228f0e322cc70d6e91d319166386b78a"
    + "3a2323ffd9"
    var data = Data()
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        data.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return data
}()

/// An observer whose every call throws, as a screen gone away might.
final class ThrowingObserver: SyncObserver, @unchecked Sendable {
    struct Gone: Error {}

    func onState(state: SyncState) throws { throw Gone() }
    func onProgress(progress: SyncProgress) throws { throw Gone() }
}

final class FieldScenarioTests: XCTestCase {
    func testGridworkerAndBuildingHeadInTheField() async throws {
        let env = ProcessInfo.processInfo.environment
        let scratch = URL(fileURLWithPath: try XCTUnwrap(env["GRIDWORK_SCRATCH"]))
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let server = try TestServer(binary: try XCTUnwrap(env["GRIDWORK_SERVER"]), scratch: scratch)
        defer { server.stop() }
        func store(_ name: String) -> String { scratch.appendingPathComponent(name).path }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        let today = formatter.string(from: Date())
        let later = formatter.string(from: Date().addingTimeInterval(180 * 86_400))

        // A store opened with a key is encrypted, reopens with it, and refuses a wrong key or
        // none. In the app the key is 32 random bytes kept in the Keychain (docs/mobile.md).
        let key = String(repeating: "5a", count: 16) + String(repeating: "c3", count: 16)
        do {
            let locked = try GridworkClient.open(dbPath: store("locked.db"), serverUrl: server.url, encryptionKey: key)
            _ = try locked.places().createArea(area: Area(id: "", level: .district, code: "330106", name: "西湖区", parentId: nil))
        }
        do {
            let again = try GridworkClient.open(dbPath: store("locked.db"), serverUrl: server.url, encryptionKey: key)
            XCTAssertEqual(try again.places().childAreas(parentId: nil).map { $0.name }, ["西湖区"])
        }
        let lockedBytes = try Data(contentsOf: URL(fileURLWithPath: store("locked.db")))
        XCTAssertNil(lockedBytes.range(of: Data("西湖区".utf8)), "the file is opaque")
        XCTAssertNil(lockedBytes.range(of: Data("SQLite format 3".utf8)), "the file is opaque")
        XCTAssertThrowsError(try GridworkClient.open(dbPath: store("locked.db"), serverUrl: server.url, encryptionKey: String(repeating: "0f", count: 32))) { error in
            guard case GridworkError.WrongKey(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "wrong key or not a gridwork database")
        }
        XCTAssertThrowsError(try GridworkClient.open(dbPath: store("locked.db"), serverUrl: server.url, encryptionKey: nil)) { error in
            guard case GridworkError.WrongKey = error else { return XCTFail("\(error)") }
        }

        // Services share the client's store and go with it: released while a service is still
        // held, the client lets go of the store, the file opens again, the service says Closed.
        var held: PlaceService? = nil
        do {
            let client = try GridworkClient.open(dbPath: store("services.db"), serverUrl: server.url, encryptionKey: nil)
            held = client.places()
            let district = try held!.createArea(area: Area(id: "", level: .district, code: "330106", name: "西湖区", parentId: nil))
            XCTAssertEqual(try client.places().area(areaId: district.id), district, "one store behind every service")
            XCTAssertEqual(try client.sync().pendingCount(), 1)
        }
        do {
            let again = try GridworkClient.open(dbPath: store("services.db"), serverUrl: server.url, encryptionKey: nil)
            XCTAssertEqual(try again.places().childAreas(parentId: nil).map { $0.name }, ["西湖区"])
        }
        XCTAssertThrowsError(try held!.childAreas(parentId: nil)) { error in
            guard case GridworkError.Closed = error else { return XCTFail("\(error)") }
        }

        // A damaged store is refused, and recovery keeps the damaged file and the changes.
        do {
            let phone = try GridworkClient.open(dbPath: store("damaged.db"), serverUrl: server.url, encryptionKey: nil)
            _ = try phone.places().createArea(area: Area(id: "", level: .district, code: "330106", name: "西湖区", parentId: nil))
        }
        let damaged = try FileHandle(forWritingTo: URL(fileURLWithPath: store("damaged.db")))
        try damaged.truncate(atOffset: 5000)
        try damaged.close()
        XCTAssertThrowsError(try GridworkClient.open(dbPath: store("damaged.db"), serverUrl: server.url, encryptionKey: nil)) { error in
            guard case GridworkError.StoreDamaged = error else { return XCTFail("\(error)") }
        }
        let recovery = try recoverStore(dbPath: store("damaged.db"), encryptionKey: nil, exportPath: store("damaged-unsynced.jsonl"))
        XCTAssertEqual(recovery.movedAside.count, 1)
        let keptSize = try FileManager.default.attributesOfItem(atPath: recovery.movedAside[0])[.size] as? Int
        XCTAssertEqual(keptSize, 5000, "the damaged file is kept as it was")
        XCTAssertTrue(FileManager.default.fileExists(atPath: store("damaged-unsynced.jsonl")))
        let fresh = try GridworkClient.open(dbPath: store("damaged.db"), serverUrl: server.url, encryptionKey: nil)
        XCTAssertEqual(try fresh.sync().pendingCount(), recovery.salvaged)

        // The operator's phone (an admin: only admins create areas) loads the areas and the station.
        let operatorPhone = try GridworkClient.open(dbPath: store("operator.db"), serverUrl: server.url, encryptionKey: nil)
        let district = try operatorPhone.places().createArea(area: Area(id: "", level: .district, code: "330106", name: "西湖区", parentId: nil))
        let subdistrict = try operatorPhone.places().createArea(area: Area(id: "", level: .subdistrict, code: "330106001", name: "北山街道", parentId: district.id))
        let layer = try operatorPhone.places().createArea(area: Area(id: "", level: .gridLayer, code: "330106001L01", name: "第一网格层", parentId: subdistrict.id))
        let community = try operatorPhone.places().createArea(area: Area(id: "", level: .community, code: "330106001001", name: "梅花碑社区", parentId: layer.id))
        let grid = try operatorPhone.places().createArea(area: Area(id: "", level: .grid, code: "330106001001001", name: "梅花碑第一网格", parentId: community.id))
        let station = try operatorPhone.places().createStation(station: Station(id: "", name: "梅花碑微型消防站", areaId: grid.id, position: Position(lat: 30.25, lon: 120.17), phone: "0571-87000000"))
        let op = try await operatorPhone.enroll(code: try server.enrollmentCode(name: "系统管理员", role: "admin", scope: nil), deviceName: "operator")
        XCTAssertEqual(op.role, .admin)
        let loaded = try await operatorPhone.sync().syncNow()
        XCTAssertEqual(loaded.pushed, 6)
        // The subdistrict adopts Wulin's 1/5/30: a field of its area, set by the admin.
        let wulin = try XCTUnwrap(responsePolicyPreset(name: "wulin"))
        let history = try operatorPhone.alarms().setResponsePolicy(subdistrictId: subdistrict.id, policy: wulin)
        XCTAssertEqual(history.map(\.name), ["wulin-1-5-30"])
        let policySent = try await operatorPhone.sync().syncNow()
        XCTAssertEqual(policySent.pushed, 1)

        // The gridworker enrolls with a one-time code and bootstraps the grid.
        let gridworker = try GridworkClient.open(dbPath: store("gridworker.db"), serverUrl: server.url, encryptionKey: nil)
        let observer = RecordingObserver()
        _ = gridworker.sync().addSyncObserver(observer: observer)
        let me = try await gridworker.enroll(code: try server.enrollmentCode(name: "王芳", role: "gridworker", scope: grid.id), deviceName: "王芳's phone")
        XCTAssertEqual(me.role, .gridworker)
        let boot = try await gridworker.sync().syncNow()
        XCTAssertEqual(boot.snapshotRecords, 6)
        // Determinate progress: every bootstrap step carries the total, and the bar ends full.
        let bootSteps = observer.progress.filter { $0.step == .bootstrap }
        XCTAssertFalse(bootSteps.isEmpty)
        for p in bootSteps {
            let total = try XCTUnwrap(p.total)
            XCTAssertLessThanOrEqual(p.done, total)
        }
        XCTAssertEqual(bootSteps.last?.total, boot.snapshotRecords)
        XCTAssertEqual(try gridworker.alarms().responsePolicyInForce(areaId: grid.id).onSceneMs, 5 * 60_000, "the policy came with the subdistrict")
        XCTAssertTrue(observer.states.contains(.syncing))
        XCTAssertEqual(observer.states.last, .idle)

        // Its phone records a building, a room and a tenant.
        let building = try gridworker.places().createBuilding(building: Building(
            id: "", addressCode: "3301060010010010001", address: "梅花碑3号", kind: .rental, gridId: grid.id,
            microGridId: nil, headUserId: nil, stationId: station.id, position: Position(lat: 30.251, lon: 120.171)))
        let room = try gridworker.places().createHousehold(household: Household(id: "", buildingId: building.id, unit: "2-301", kind: .rental, phone: Sensitive(value: "13800000000"), archived: false))
        let tenant = try gridworker.residents().createResident(resident: Resident(
            id: "", householdId: room.id, name: "李娜", idNumber: Sensitive(value: "11010519491231002X"), phone: nil,
            keyGroups: [], lastVisitMs: nil, archived: false))
        XCTAssertEqual(try gridworker.places().buildingsInArea(areaId: grid.id, limit: 50, cursor: nil).items.map(\.id), [building.id])

        // Lookups by code (issue 22): a building by its address code, an area by its code, the
        // stations the phone holds; an unknown code is nil.
        XCTAssertEqual(try gridworker.places().buildingByAddressCode(addressCode: "3301060010010010001")?.id, building.id)
        XCTAssertNil(try gridworker.places().buildingByAddressCode(addressCode: "3301060010010019999"))
        XCTAssertEqual(try gridworker.places().areaByCode(code: "330106001001001")?.id, grid.id)
        XCTAssertNil(try gridworker.places().areaByCode(code: "330106001001999"))
        XCTAssertTrue(try gridworker.places().stations().contains { $0.id == station.id && $0.name == "梅花碑微型消防站" })

        // Long lists come in pages: a limit and an opaque cursor, the next page's cursor nil
        // after the last; a bad limit or cursor is refused naming it.
        for unit in ["3-101", "3-102", "3-103", "3-104"] {
            _ = try gridworker.places().createHousehold(household: Household(id: "", buildingId: building.id, unit: unit, kind: .rental, phone: nil, archived: false))
        }
        var units: [String] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            let page = try gridworker.places().householdsOfBuilding(buildingId: building.id, includeArchived: false, limit: 2, cursor: cursor)
            XCTAssertLessThanOrEqual(page.items.count, 2)
            units += page.items.map(\.unit)
            cursor = page.nextCursor
            pages += 1
        } while cursor != nil
        XCTAssertEqual(pages, 3)
        XCTAssertEqual(units, ["2-301", "3-101", "3-102", "3-103", "3-104"])
        XCTAssertThrowsError(try gridworker.places().householdsOfBuilding(buildingId: building.id, includeArchived: false, limit: 0, cursor: nil)) { error in
            guard case let GridworkError.InvalidInput(field, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "limit")
        }
        XCTAssertThrowsError(try gridworker.residents().residentsOfHousehold(householdId: room.id, limit: 10, cursor: "not-a-cursor")) { error in
            guard case let GridworkError.InvalidInput(field, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "cursor")
        }
        // No unsigned types: a negative count is refused with a clear error.
        XCTAssertThrowsError(try gridworker.search(query: "梅花碑", limit: -1)) { error in
            guard case let GridworkError.InvalidInput(field, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "limit")
            XCTAssertEqual(reason, "must not be negative")
        }
        // Case states and steps are enums with stable codes to localize by.
        XCTAssertEqual(caseStateCode(state: .onScene), "on_scene")
        XCTAssertEqual(caseStepCode(step: .reviewAssign), "review_assign")
        XCTAssertEqual(caseActionStep(action: .fix), .fix)

        // A bad ID number is refused naming the field, without echoing it.
        XCTAssertThrowsError(try gridworker.residents().createResident(resident: Resident(
            id: "", householdId: room.id, name: "王芳", idNumber: Sensitive(value: "110105194912310021"), phone: nil,
            keyGroups: [], lastVisitMs: nil, archived: false))) { error in
            guard case let GridworkError.InvalidInput(field, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "resident.id_number")
            XCTAssertFalse(reason.contains("110105194912310021"))
        }

        // It sends them (the building, the room, the tenant and the four rooms of the paging check).
        let first = try await gridworker.sync().syncNow()
        XCTAssertEqual(first.pushed, 7)
        XCTAssertEqual(first.rejected, 0)
        XCTAssertEqual(try gridworker.sync().pendingCount(), 0)

        // The building head enrolls with a one-time code and bootstraps the building.
        let head = try GridworkClient.open(dbPath: store("head.db"), serverUrl: server.url, encryptionKey: nil)
        let headUser = try await head.enroll(code: try server.enrollmentCode(name: "张伟", role: "building_head", scope: building.id), deviceName: "张伟's phone")
        XCTAssertEqual(headUser.role, .buildingHead)
        _ = try await head.sync().syncNow()
        XCTAssertEqual(try head.places().building(buildingId: building.id).address, "梅花碑3号")

        // The head's phone shows what the server will accept: their building's households, not
        // a case's status.
        XCTAssertTrue(try head.mayEdit(recordId: room.id).allowed)
        XCTAssertFalse(try head.mayDelete(recordId: room.id).allowed)
        let otherBuilding = NewCase(
            kind: .dispute, title: "邻里噪音", category: "noise", severity: .low,
            areaId: grid.id, buildingId: nil, householdId: nil, position: nil)
        let refused = try head.cases().mayOpenCase(newCase: otherBuilding)
        XCTAssertFalse(refused.allowed)
        // A stable code for the app's own words; the English sentence for logs.
        XCTAssertEqual(refused.code, "head_hazards_only")
        XCTAssertTrue(refused.args.isEmpty)
        XCTAssertNotNil(refused.reason)

        // Offline, the gridworker logs a hazard and edits the room's phone.
        gridworker.sync().setOnline(online: false)
        XCTAssertEqual(gridworker.sync().syncState(), .offline)
        let hazard = try gridworker.cases().openCase(newCase: NewCase(
            kind: .hazard, title: "电动车楼道充电", category: "fire_safety", severity: .high,
            areaId: grid.id, buildingId: building.id, householdId: nil, position: nil))
        XCTAssertEqual(hazard.colour, .green)
        var edited = try gridworker.places().household(householdId: room.id)
        edited.phone = Sensitive(value: "13800000001")
        _ = try gridworker.places().updateHousehold(household: edited)
        XCTAssertEqual(try gridworker.sync().pendingCount(), 2)

        // The building head checks the tenant in and edits the same phone, then syncs. A few ms
        // later by the clock, so the head's edit is the later one (within one millisecond the
        // HLC tie-break, not the order of typing, would pick the winner).
        try await Task.sleep(nanoseconds: 20_000_000)
        let stay = try head.registrations().checkIn(residentId: tenant.id, householdId: room.id, checkIn: today, expectedEnd: later)
        XCTAssertEqual(stay.checkIn, today)
        var headEdit = try head.places().household(householdId: room.id)
        headEdit.phone = Sensitive(value: "13900000002")
        _ = try head.places().updateHousehold(household: headEdit)
        _ = try await head.sync().syncNow()

        // Back online, the gridworker syncs; its lost edit shows as a conflict and is re-applied.
        gridworker.sync().setOnline(online: true)
        let report = try await gridworker.sync().syncNow()
        XCTAssertEqual(report.conflicts, 1)
        let conflict = try XCTUnwrap(try gridworker.sync().fieldConflicts().first)
        XCTAssertEqual(conflict.field, "phone")
        XCTAssertEqual(conflict.lostValueJson, "\"13800000001\"")
        XCTAssertEqual(try gridworker.registrations().registrationsOfResident(residentId: tenant.id, limit: 50, cursor: nil).items.count, 1)
        try gridworker.sync().reapplyConflict(conflictId: conflict.id)
        _ = try await gridworker.sync().syncNow()
        _ = try await head.sync().syncNow()
        XCTAssertEqual(try head.places().household(householdId: room.id).phone?.reveal(), "13800000001")
        XCTAssertEqual(try gridworker.stateDigest(), try head.stateDigest())

        // A photo of the hazard: taken offline, uploaded in its own lane (paused, then waiting
        // for Wi-Fi, then sent), fetched by the building head identical.
        gridworker.sync().setOnline(online: false)
        let photo = try gridworker.photos().takePhoto(caseId: hazard.id, bytes: cameraJpeg)
        gridworker.sync().setOnline(online: true)
        XCTAssertEqual(photo.mediaType, "image/jpeg")
        XCTAssertNotNil(photo.position, "the camera's position is kept in the step")
        let thumbnail = try XCTUnwrap(photo.thumbnailHash)
        let listed = try XCTUnwrap(try gridworker.photos().casePhotos(caseId: hazard.id).first)
        XCTAssertEqual(listed.attachment, photo)
        XCTAssertEqual(listed.upload?.state, .queued)
        let stored = try XCTUnwrap(try gridworker.photos().attachmentBytes(hashHex: photo.hash))
        XCTAssertNil(stored.range(of: Data("SERIAL-8675309".utf8)), "the camera's metadata is gone")
        XCTAssertEqual(try gridworker.photos().uploadProgress().map(\.role), [.thumbnail, .picture])
        let uploads = RecordingUploads()
        let uploadHandle = gridworker.photos().addUploadObserver(observer: uploads)
        _ = try await gridworker.sync().syncNow()
        try gridworker.photos().setUploadPolicy(policy: .paused)
        let paused = try await gridworker.photos().uploadAttachments()
        XCTAssertEqual(paused.stopped, .paused)
        try gridworker.photos().setUploadPolicy(policy: .unmeteredOnly)
        XCTAssertEqual(try gridworker.photos().uploadPolicy(), .unmeteredOnly)
        let waiting = try await gridworker.photos().uploadAttachments()
        XCTAssertEqual(waiting.stopped, .waitingForUnmetered)
        try gridworker.photos().setNetworkMetered(metered: false)
        let sent = try await gridworker.photos().uploadAttachments()
        XCTAssertEqual(sent.completed, 2)
        XCTAssertEqual(sent.queued, 0)
        XCTAssertNil(sent.stopped)
        uploadHandle.remove()
        let lastProgress = try XCTUnwrap(uploads.seen.last { $0.hash == photo.hash })
        XCTAssertEqual(lastProgress.state, .uploaded)
        XCTAssertEqual(lastProgress.sent, photo.size)
        _ = try await head.sync().syncNow()
        let there = try XCTUnwrap(try head.photos().casePhotos(caseId: hazard.id).first)
        XCTAssertFalse(there.pictureHere)
        let fetchedThumbnail = try await head.photos().fetchAttachment(hashHex: thumbnail)
        XCTAssertNotNil(fetchedThumbnail)
        let fetched = try await head.photos().fetchAttachment(hashHex: photo.hash)
        XCTAssertEqual(fetched, stored)
        XCTAssertThrowsError(try head.photos().attachmentBytes(hashHex: "not-a-hash")) { error in
            guard case let GridworkError.InvalidInput(field, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "hash_hex")
        }

        // A building's and a room's photos, added offline on two phones, are both kept.
        gridworker.sync().setOnline(online: false)
        head.sync().setOnline(online: false)
        let exit = try gridworker.photos().addRecordPhoto(kind: .building, recordId: building.id, bytes: cameraJpeg)
        let inRoom = try head.photos().addRecordPhoto(kind: .household, recordId: room.id, bytes: cameraJpeg)
        XCTAssertThrowsError(try head.photos().addRecordPhoto(kind: .building, recordId: building.id, bytes: cameraJpeg)) { error in
            guard case GridworkError.NotAllowed = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try gridworker.photos().addRecordPhoto(kind: .station, recordId: station.id, bytes: cameraJpeg)) { error in
            guard case GridworkError.InvalidInput = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try gridworker.photos().recordPhotos(kind: .building, recordId: building.id).map(\.attachment), [exit])
        XCTAssertTrue(try head.photos().recordPhotos(kind: .building, recordId: building.id).isEmpty)
        gridworker.sync().setOnline(online: true)
        head.sync().setOnline(online: true)
        _ = try await gridworker.sync().syncNow()
        _ = try await head.sync().syncNow()
        _ = try await gridworker.sync().syncNow()
        _ = try await head.photos().uploadAttachments()
        _ = try await gridworker.photos().uploadAttachments()
        XCTAssertEqual(try head.photos().recordPhotos(kind: .building, recordId: building.id).map(\.attachment), [exit])
        XCTAssertEqual(try gridworker.photos().recordPhotos(kind: .household, recordId: room.id).map(\.attachment), [inRoom])
        let exitThumbnail = try await head.photos().fetchAttachment(hashHex: try XCTUnwrap(exit.thumbnailHash))
        XCTAssertNotNil(exitThumbnail)
        try gridworker.photos().removeRecordPhoto(kind: .building, recordId: building.id, pictureHash: exit.hash)
        _ = try await gridworker.sync().syncNow()
        _ = try await head.sync().syncNow()
        XCTAssertTrue(try head.photos().recordPhotos(kind: .building, recordId: building.id).isEmpty)
        XCTAssertEqual(try head.photos().recordPhotos(kind: .household, recordId: room.id).count, 1)

        // An alarm raised by the building head reaches the gridworker through the live wait.
        async let news = gridworker.sync().waitForChanges(waitSeconds: 20)
        let alarm = try head.alarms().raiseAlarm(buildingId: building.id, title: "闻到烟味", category: "fire", severity: nil)
        XCTAssertEqual(alarm.state, .dispatched)
        XCTAssertEqual(alarm.dispatchedStationId, station.id)
        _ = try await head.sync().syncNow()
        let pulled = try await news
        XCTAssertGreaterThanOrEqual(pulled.pulled, 1)

        // The crew's arrival is recorded, within the five-minute target.
        _ = try gridworker.cases().recordCaseEvent(caseId: alarm.id, action: .acknowledge)
        _ = try gridworker.cases().recordCaseEvent(caseId: alarm.id, action: .enRoute(position: nil))
        let arrived = try gridworker.cases().recordCaseEvent(caseId: alarm.id, action: .arrive(position: Position(lat: 30.251, lon: 120.171)))
        XCTAssertEqual(arrived.state, .onScene)
        let figure = try XCTUnwrap(try gridworker.alarms().alarmArrival(caseId: alarm.id))
        XCTAssertTrue(figure.withinTarget)
        XCTAssertEqual(try gridworker.cases().caseTimeline(caseId: alarm.id).count, 4)
        XCTAssertThrowsError(try gridworker.cases().recordCaseEvent(caseId: alarm.id, action: .dispatch(stationId: station.id))) { error in
            guard case let GridworkError.NotAllowed(code, args, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "step_wrong_state")
            XCTAssertEqual(args, ["kind": "alarm", "state": "on_scene", "step": "dispatch"])
        }

        // Both converge; search finds the building; the hazard is on the head's list.
        _ = try await gridworker.sync().syncNow()
        _ = try await head.sync().syncNow()
        XCTAssertTrue(try gridworker.search(query: "梅花碑", limit: 10).contains { $0.kind == .building && $0.id == building.id })
        XCTAssertTrue(try head.cases().openCases(limit: 50, cursor: nil).items.contains { $0.id == hazard.id })
        XCTAssertEqual(try head.cases().`case`(caseId: alarm.id).state, .onScene)
        XCTAssertEqual(try gridworker.stateDigest(), try head.stateDigest())

        // A step the building head's role may not take is refused on the phone, never queued.
        XCTAssertThrowsError(try head.cases().recordCaseEvent(caseId: hazard.id, action: .fix)) { error in
            guard case let GridworkError.NotAllowed(code, _, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "head_annotates_only")
            XCTAssertTrue(reason.contains("building head"), reason)
        }
        XCTAssertEqual(try head.sync().pendingCount(), 0)

        // Both record the same new unit offline; the server keeps the first to arrive, and the
        // head's phone puts the record back and lists the refused change.
        let kept = try gridworker.places().createHousehold(household: Household(
            id: "", buildingId: building.id, unit: "2-302", kind: .rental, phone: nil, archived: false))
        let lost = try head.places().createHousehold(household: Household(
            id: "", buildingId: building.id, unit: "2-302", kind: .vacant, phone: nil, archived: false))
        _ = try await gridworker.sync().syncNow()
        let refusedSync = try await head.sync().syncNow()
        XCTAssertEqual(refusedSync.rejected, 1)
        XCTAssertEqual(refusedSync.reverted, 1)
        XCTAssertThrowsError(try head.places().household(householdId: lost.id))
        XCTAssertEqual(try head.places().household(householdId: kept.id).kind, .rental)
        let change = try XCTUnwrap(try head.sync().refusedChanges().first)
        XCTAssertEqual(change.entityId, lost.id)
        XCTAssertEqual(change.code, "invalid")
        XCTAssertTrue(change.fields.contains("unit"), "\(change.fields)")
        XCTAssertNil(change.step)
        XCTAssertNil(change.rule)
        XCTAssertTrue(change.reason.hasPrefix("a value was refused"), change.reason)
        XCTAssertThrowsError(try head.sync().redoRefused(changeId: change.changeId))
        XCTAssertEqual(try head.sync().refusedChanges().count, 1)
        try head.sync().discardRefused(changeId: change.changeId)
        XCTAssertTrue(try head.sync().refusedChanges().isEmpty)
        _ = try await gridworker.sync().syncNow()
        _ = try await head.sync().syncNow()
        XCTAssertEqual(try gridworker.stateDigest(), try head.stateDigest())
    }

    /// Records print ID numbers and phones masked; `reveal()` gives them.
    func testRecordsPrintPersonalValuesMasked() throws {
        let resident = Resident(
            id: "", householdId: "", name: "李娜", idNumber: Sensitive(value: "11010519491231002X"),
            phone: Sensitive(value: "13700000000"), keyGroups: [], lastVisitMs: nil, archived: false)
        for printed in [String(describing: resident), "\(resident)", String(reflecting: resident)] {
            XCTAssertFalse(printed.contains("19491231"), printed)
            XCTAssertFalse(printed.contains("13700000000"), printed)
        }
        XCTAssertEqual(resident.idNumber?.description, "1101**********002X")
        XCTAssertEqual(resident.idNumber?.reveal(), "11010519491231002X")
        XCTAssertEqual(resident.phone, Sensitive(value: "13700000000"), "equal by value")
    }

    /// Observers that throw, removed observers, the AsyncStream adapter, one client per store,
    /// shutdown and going offline stopping a waiting call, and a private CA.
    func testLifecycleObserversStreamsAndPrivateCA() async throws {
        let env = ProcessInfo.processInfo.environment
        let scratch = URL(fileURLWithPath: try XCTUnwrap(env["GRIDWORK_SCRATCH"])).appendingPathComponent("lifecycle")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let binary = try XCTUnwrap(env["GRIDWORK_SERVER"])
        let server = try TestServer(binary: binary, scratch: scratch)
        defer { server.stop() }
        func store(_ name: String) -> String { scratch.appendingPathComponent(name).path }

        let phone = try GridworkClient.open(dbPath: store("phone.db"), serverUrl: server.url, encryptionKey: nil)
        XCTAssertThrowsError(try GridworkClient.open(dbPath: store("phone.db"), serverUrl: server.url, encryptionKey: nil)) { error in
            guard case GridworkError.StoreInUse = error else { return XCTFail("\(error)") }
        }
        _ = phone.sync().addSyncObserver(observer: ThrowingObserver())
        let kept = RecordingObserver()
        _ = phone.sync().addSyncObserver(observer: kept)
        let removed = RecordingObserver()
        phone.sync().addSyncObserver(observer: removed).remove()
        _ = try await phone.enroll(code: try server.enrollmentCode(name: "李强", role: "admin", scope: nil), deviceName: "spare")
        _ = try await phone.sync().syncNow()
        _ = try await phone.sync().syncNow()
        XCTAssertEqual(phone.sync().syncState(), .idle, "a throwing observer does not break sync")
        XCTAssertEqual(kept.states, [.syncing, .idle, .syncing, .idle])
        XCTAssertTrue(removed.states.isEmpty)

        // The AsyncStream adapter: the current state first, then each change.
        var states = phone.sync().syncStates().makeAsyncIterator()
        let current = await states.next()
        XCTAssertEqual(current, .idle)
        phone.sync().setOnline(online: false)
        let offline = await states.next()
        XCTAssertEqual(offline, .offline)
        do {
            _ = try await phone.sync().syncNow()
            XCTFail("sync while offline")
        } catch GridworkError.Offline {}
        phone.sync().setOnline(online: true)
        let online = await states.next()
        XCTAssertEqual(online, .idle)

        // Going offline stops a live wait; shutdown stops one and frees the store.
        let waitingOffline = Task { try await phone.sync().waitForChanges(waitSeconds: 30) }
        try await Task.sleep(nanoseconds: 300_000_000)
        phone.sync().setOnline(online: false)
        do {
            _ = try await waitingOffline.value
            XCTFail("the wait was not stopped")
        } catch GridworkError.Offline {}
        phone.sync().setOnline(online: true)
        let waiting = Task { try await phone.sync().waitForChanges(waitSeconds: 30) }
        try await Task.sleep(nanoseconds: 300_000_000)
        phone.shutdown()
        do {
            _ = try await waiting.value
            XCTFail("the wait was not stopped")
        } catch GridworkError.Closed {}
        XCTAssertThrowsError(try phone.sync().pendingCount()) { error in
            guard case GridworkError.Closed = error else { return XCTFail("\(error)") }
        }
        let again = try GridworkClient.open(dbPath: store("phone.db"), serverUrl: server.url, encryptionKey: nil)
        XCTAssertEqual(try again.sync().pendingCount(), 0)

        // A server whose certificate a private CA signed: trusted with the CA's PEM, refused
        // without it.
        let tlsDir = try XCTUnwrap(env["GRIDWORK_TLS_DIR"])
        let tlsScratch = scratch.appendingPathComponent("tls")
        try FileManager.default.createDirectory(at: tlsScratch, withIntermediateDirectories: true)
        let tls = try TestServer(binary: binary, scratch: tlsScratch, tls: tlsDir)
        defer { tls.stop() }
        XCTAssertTrue(tls.url.hasPrefix("https://"), tls.url)
        let ca = try String(contentsOfFile: "\(tlsDir)/ca.pem", encoding: .utf8)
        let trusting = try GridworkClient.open(
            dbPath: tlsScratch.appendingPathComponent("trusting.db").path, serverUrl: tls.url,
            encryptionKey: nil, trustAnchorsPem: ca)
        let enrolled = try await trusting.enroll(code: try tls.enrollmentCode(name: "管理员", role: "admin", scope: nil), deviceName: "tls")
        XCTAssertEqual(enrolled.role, .admin)
        _ = try await trusting.sync().syncNow()
        let untrusting = try GridworkClient.open(
            dbPath: tlsScratch.appendingPathComponent("untrusting.db").path, serverUrl: tls.url, encryptionKey: nil)
        do {
            _ = try await untrusting.enroll(code: try tls.enrollmentCode(name: "王芳", role: "admin", scope: nil), deviceName: "untrusting")
            XCTFail("an untrusted certificate was accepted")
        } catch GridworkError.Offline(let reason) {
            XCTAssertTrue(reason.contains("certificate"), reason)
        }
    }
}
