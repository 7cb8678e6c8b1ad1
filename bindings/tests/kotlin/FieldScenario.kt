/**
 * The field scenario through the Kotlin bindings, on the host JVM as an Android app's code would
 * run: a real gridwork-server, an operator's phone that loads the areas, two enrolled phones (a
 * gridworker and a building head), offline
 * edits that conflict, a fire alarm reaching the gridworker through the live wait, and the crew's
 * arrival. Run by scripts/test-bindings.sh, which passes the server binary and a scratch folder in
 * GRIDWORK_SERVER and GRIDWORK_SCRATCH. Every step asserts; the last line counts them.
 */
import java.io.File
import java.time.DayOfWeek
import java.time.LocalDate
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import java.util.concurrent.Executors
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import org.gridwork.*

/** Runs the scenario's steps in order; a failed step stops the ones that depend on it. */
class Steps {
    var passed = 0
    var failed = 0

    fun step(name: String, body: () -> Unit) {
        if (failed > 0) return
        try {
            body()
            passed++
            println("  ok    $name")
        } catch (e: Throwable) {
            failed++
            println("  FAIL  $name: $e")
            e.printStackTrace()
        }
    }
}

/** A gridwork-server on a free loopback port, with its SQLite file, for one scenario. */
class TestServer(val binary: String, scratch: File, tls: File? = null) : AutoCloseable {
    private val db = File(scratch, "server.db").path
    private val tlsArgs = if (tls == null) listOf() else
        listOf("--tls-cert", File(tls, "cert.pem").path, "--tls-key", File(tls, "key.pem").path)
    private val process: Process =
        ProcessBuilder(listOf(binary, "serve", "--db", db, "--listen", "127.0.0.1:0") + tlsArgs)
            // The request log goes to a file next to the database, to read when a step fails.
            .redirectError(File(scratch, "server.log"))
            .start()
    val url: String

    init {
        // The server prints its address once it listens; read stdout until then.
        val reader = process.inputStream.bufferedReader()
        var line = reader.readLine()
        while (line != null && !line.startsWith("listening on ")) line = reader.readLine()
        url = checkNotNull(line) { "the server exited before listening" }.removePrefix("listening on ").trim()
        // Keep draining stdout so the server never blocks on a full pipe.
        Thread { reader.forEachLine {} }.apply { isDaemon = true }.start()
    }

    /** Runs `gridwork-server admin ...` on the same file and returns what it printed. */
    private fun admin(vararg args: String): String {
        val p = ProcessBuilder(listOf(binary, "admin") + args + listOf("--db", db))
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val out = p.inputStream.bufferedReader().readText().trim()
        check(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) { "admin ${args[0]} failed" }
        return out
    }

    /** Creates a user and returns a one-time enrollment code for them. */
    fun enrollmentCode(name: String, role: String, scope: String?): String {
        val scopeArgs = if (scope == null) arrayOf() else arrayOf("--scope", scope)
        val user = admin("create-user", "--name", name, "--role", role, *scopeArgs)
        return admin("enrollment-code", "--user", user)
    }

    override fun close() {
        process.destroy()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

/** Remembers every sync state a phone went through. Called on a background thread. */
class RecordingObserver : SyncObserver {
    val states = CopyOnWriteArrayList<SyncState>()
    val progress = CopyOnWriteArrayList<SyncProgress>()

    override fun onState(state: SyncState) {
        states.add(state)
    }

    override fun onProgress(progress: SyncProgress) {
        this.progress.add(progress)
    }
}

fun main() {
    val serverBinary = System.getenv("GRIDWORK_SERVER") ?: error("set GRIDWORK_SERVER")
    val scratch = File(System.getenv("GRIDWORK_SCRATCH") ?: error("set GRIDWORK_SCRATCH"))
    scratch.mkdirs()
    val steps = Steps()
    TestServer(serverBinary, scratch).use { server ->
        scenario(steps, server, scratch)
    }
    println("kotlin: ${steps.passed} passed, ${steps.failed} failed")
    exitProcess(if (steps.failed == 0) 0 else 1)
}

fun scenario(steps: Steps, server: TestServer, scratch: File) {
    // The brief's weeks run in China's time (UTC+8, the deadline rules' default): on a Sunday
    // evening in UTC it is already Monday there, so "today" is taken in that zone.
    val today = LocalDate.now(java.time.ZoneOffset.ofHours(8))
    lateinit var operator: GridworkClient
    lateinit var gridworker: GridworkClient
    lateinit var head: GridworkClient
    val gridworkerSync = RecordingObserver()
    lateinit var grid: Area
    lateinit var station: Station
    lateinit var building: Building
    lateinit var room: Household
    lateinit var tenant: Resident
    lateinit var hazard: CaseView
    lateinit var alarm: CaseView

    steps.step("a store opened with a key is encrypted, reopens with it and refuses a wrong one") {
        // In the app: 32 random bytes kept wrapped by an Android Keystore key (docs/mobile.md).
        val key = "5a".repeat(16) + "c3".repeat(16)
        val path = File(scratch, "locked.db").path
        GridworkClient.open(path, server.url, key).use { locked ->
            locked.places().createArea(Area("", AreaLevel.DISTRICT, "330106", "西湖区", null))
        }
        GridworkClient.open(path, server.url, key).use { again ->
            assertEquals(listOf("西湖区"), again.places().childAreas(null).map { it.name })
        }
        val bytes = String(File(path).readBytes(), Charsets.UTF_8)
        assertFalse(bytes.contains("西湖区") || bytes.contains("SQLite format 3"), "the file is opaque")
        val wrong = assertFailsWith<GridworkException.WrongKey> {
            GridworkClient.open(path, server.url, "0f".repeat(32))
        }
        assertTrue(wrong.message!!.contains("wrong key or not a gridwork database"), wrong.message)
        assertFailsWith<GridworkException.WrongKey> { GridworkClient.open(path, server.url, null) }
        assertFailsWith<GridworkException.InvalidInput> { GridworkClient.open(path, server.url, "a key") }
    }

    steps.step("a damaged store is refused and recovered without deleting anything") {
        val path = File(scratch, "damaged.db").path
        GridworkClient.open(path, server.url, null).use { phone ->
            phone.places().createArea(Area("", AreaLevel.DISTRICT, "330106", "西湖区", null))
        }
        java.io.RandomAccessFile(path, "rw").use { it.setLength(5000) }
        assertFailsWith<GridworkException.StoreDamaged> { GridworkClient.open(path, server.url, null) }
        val export = File(scratch, "damaged-unsynced.jsonl")
        val recovery = recoverStore(path, null, export.path)
        assertEquals(1, recovery.movedAside.size)
        assertEquals(5000L, File(recovery.movedAside[0]).length(), "the damaged file is kept as it was")
        assertTrue(export.exists())
        GridworkClient.open(path, server.url, null).use { fresh ->
            assertEquals(recovery.salvaged, fresh.sync().pendingCount())
        }
    }

    steps.step("services share the client's store and go with it when the client is closed") {
        val path = File(scratch, "services.db").path
        val client = GridworkClient.open(path, server.url, null)
        val places = client.places()
        val sync = client.sync()
        val district = places.createArea(Area("", AreaLevel.DISTRICT, "330106", "西湖区", null))
        assertEquals(district, client.places().area(district.id), "one store behind every service")
        assertEquals(1L, sync.pendingCount())
        // Closed while its services are still held (they live until the GC frees them): the
        // store goes with the client, the file opens again, the held services say Closed.
        client.close()
        GridworkClient.open(path, server.url, null).use { again ->
            assertEquals(listOf("西湖区"), again.places().childAreas(null).map { it.name })
        }
        assertFailsWith<GridworkException.Closed> { places.childAreas(null) }
        assertFailsWith<GridworkException.Closed> { sync.pendingCount() }
    }

    steps.step("the operator's phone loads the district's areas and the station") {
        // Only an admin creates areas: the operator who loads the city.
        operator = GridworkClient.open(File(scratch, "operator.db").path, server.url, null)
        val district = operator.places().createArea(Area("", AreaLevel.DISTRICT, "330106", "西湖区", null))
        val subdistrict = operator.places().createArea(Area("", AreaLevel.SUBDISTRICT, "330106001", "北山街道", district.id))
        val layer = operator.places().createArea(Area("", AreaLevel.GRID_LAYER, "330106001L01", "第一网格层", subdistrict.id))
        val community = operator.places().createArea(Area("", AreaLevel.COMMUNITY, "330106001001", "梅花碑社区", layer.id))
        grid = operator.places().createArea(Area("", AreaLevel.GRID, "330106001001001", "梅花碑第一网格", community.id))
        station = operator.places().createStation(Station("", "梅花碑微型消防站", grid.id, Position(30.2500, 120.1700), "0571-87000000"))
        assertEquals(36, grid.id.length)
        runBlocking {
            assertEquals(Role.ADMIN, operator.enroll(server.enrollmentCode("系统管理员", "admin", null), "operator").role)
            assertEquals(6L, operator.sync().syncNow().pushed)
            // The subdistrict adopts Wulin's 1/5/30: a field of its area, set by the admin.
            val history = operator.alarms().setResponsePolicy(subdistrict.id, assertNotNull(responsePolicyPreset("wulin")))
            assertEquals("wulin-1-5-30", history.single().name)
            assertEquals(1L, operator.sync().syncNow().pushed)
        }
    }

    steps.step("syncing before enrollment says so") {
        gridworker = GridworkClient.open(File(scratch, "gridworker.db").path, server.url, null)
        gridworker.sync().addSyncObserver(gridworkerSync)
        runBlocking { assertFailsWith<GridworkException.NotEnrolled> { gridworker.sync().syncNow() } }
    }

    steps.step("the gridworker enrolls with a one-time code and bootstraps the grid (suspend)") {
        runBlocking {
            val code = server.enrollmentCode("王芳", "gridworker", grid.id)
            val me = gridworker.enroll(code, "王芳's phone")
            assertEquals(Role.GRIDWORKER, me.role)
            assertEquals(me.userId, gridworker.userId())
            val report = gridworker.sync().syncNow()
            assertEquals(6L, report.snapshotRecords, "the areas down to the grid and the station")
            // Determinate progress: each bootstrap step carries the total; the bar ends full.
            val boot = gridworkerSync.progress.filter { it.step == SyncStep.BOOTSTRAP }
            assertTrue(boot.isNotEmpty(), "$boot")
            assertTrue(boot.all { it.total != null && it.done <= it.total!! }, "$boot")
            assertEquals(report.snapshotRecords, boot.last().total, "$boot")
            assertEquals(5L * 60_000L, gridworker.alarms().responsePolicyInForce(grid.id).onSceneMs, "the policy came with the subdistrict")
            assertEquals(SyncState.Idle, gridworker.sync().syncState())
            assertTrue(gridworkerSync.states.contains(SyncState.Syncing), "observer saw syncing")
            assertEquals(SyncState.Idle, gridworkerSync.states.last())
        }
    }

    steps.step("the gridworker's phone records a building, a room and a tenant") {
        building = gridworker.places().createBuilding(
            Building("", "3301060010010010001", "梅花碑3号", BuildingKind.RENTAL, grid.id, null, null, station.id, Position(30.2510, 120.1710)),
        )
        room = gridworker.places().createHousehold(Household("", building.id, "2-301", HouseholdKind.RENTAL, Sensitive("13800000000"), false))
        tenant = gridworker.residents().createResident(
            Resident("", room.id, "李娜", Sensitive("11010519491231002X"), Sensitive("13700000000"), listOf(), null, false),
        )
        assertEquals(listOf(building.id), gridworker.places().buildingsInArea(grid.id, 50, null).items.map { it.id })
        assertEquals(listOf("2-301"), gridworker.places().householdsOfBuilding(building.id, false, 50, null).items.map { it.unit })
        val listed = gridworker.residents().residentsOfHousehold(room.id, 50, null).items.single()
        assertFalse(listed.idNumberMasked!!.contains("19491231"), "lists mask the ID number")
        assertEquals(3L, gridworker.sync().pendingCount())
    }

    steps.step("a bad ID number is refused naming the field, without echoing it") {
        val e = assertFailsWith<GridworkException.InvalidInput> {
            gridworker.residents().createResident(Resident("", room.id, "王芳", Sensitive("110105194912310021"), null, listOf(), null, false))
        }
        assertEquals("resident.id_number", e.field)
        assertFalse(e.message!!.contains("110105194912310021"), e.message)
        val bad = assertFailsWith<GridworkException.InvalidInput> {
            gridworker.registrations().checkIn(tenant.id, room.id, "31/12/2026", null)
        }
        assertEquals("check_in", bad.field)
    }

    steps.step("the gridworker sends them") {
        runBlocking {
            val report = gridworker.sync().syncNow()
            assertEquals(3L, report.pushed)
            assertEquals(0L, report.rejected)
            assertEquals(0L, gridworker.sync().pendingCount())
        }
    }

    steps.step("the building head enrolls and bootstraps the building") {
        runBlocking {
            head = GridworkClient.open(File(scratch, "head.db").path, server.url, null)
            val code = server.enrollmentCode("张伟", "building_head", building.id)
            assertEquals(Role.BUILDING_HEAD, head.enroll(code, "张伟's phone").role)
            val report = head.sync().syncNow()
            assertTrue(report.snapshotRecords + report.pulled > 0L)
            assertEquals("梅花碑3号", head.places().building(building.id).address)
            assertEquals("13800000000", head.places().household(room.id).phone?.reveal())
        }
    }

    steps.step("offline, the gridworker logs a hazard and edits the room's phone") {
        gridworker.sync().setOnline(false)
        assertEquals(SyncState.Offline, gridworker.sync().syncState())
        hazard = gridworker.cases().openCase(
            NewCase(CaseKind.HAZARD, "电动车楼道充电", "fire_safety", Severity.HIGH, grid.id, building.id, null, null),
        )
        assertEquals(CaseState.REPORTED, hazard.state)
        assertNotNull(hazard.deadline)
        assertEquals(Colour.GREEN, hazard.colour)
        gridworker.places().updateHousehold(gridworker.places().household(room.id).copy(phone = Sensitive("13800000001")))
        assertEquals(2L, gridworker.sync().pendingCount())
        assertTrue(gridworker.cases().openCases(50, null).items.any { it.id == hazard.id })
    }

    steps.step("the building head checks the tenant in and edits the same phone") {
        // A few ms later by the clock, so the head's edit is the later one.
        Thread.sleep(20)
        val stay = head.registrations().checkIn(tenant.id, room.id, today.toString(), today.plusMonths(6).toString())
        assertEquals(today.toString(), stay.checkIn)
        assertEquals(listOf(stay.id), head.registrations().registrationsOfResident(tenant.id, 50, null).items.map { it.id })
        head.places().updateHousehold(head.places().household(room.id).copy(phone = Sensitive("13900000002")))
        runBlocking { assertTrue(head.sync().syncNow().pushed >= 2L) }
    }

    steps.step("both sync and the gridworker's lost edit appears as a conflict") {
        runBlocking {
            gridworker.sync().setOnline(true)
            val report = gridworker.sync().syncNow()
            assertEquals(2L, report.pushed)
            assertEquals(1L, report.conflicts)
            head.sync().syncNow()
        }
        val conflict = gridworker.sync().fieldConflicts().single()
        assertEquals(RecordKind.HOUSEHOLD, conflict.recordKind)
        assertEquals(room.id, conflict.recordId)
        assertEquals("phone", conflict.field)
        assertEquals("\"13800000001\"", conflict.lostValueJson)
        assertEquals("\"13900000002\"", conflict.wonValueJson)
        assertEquals("13900000002", gridworker.places().household(room.id).phone?.reveal())
        assertEquals(1, gridworker.registrations().registrationsOfResident(tenant.id, 50, null).items.size, "the check-in arrived")
        assertTrue(head.cases().openCases(50, null).items.any { it.id == hazard.id }, "the hazard arrived")
    }

    steps.step("the gridworker re-applies the lost phone and both converge") {
        runBlocking {
            gridworker.sync().reapplyConflict(gridworker.sync().fieldConflicts().single().id)
            assertTrue(gridworker.sync().fieldConflicts().isEmpty())
            gridworker.sync().syncNow()
            head.sync().syncNow()
        }
        assertEquals("13800000001", head.places().household(room.id).phone?.reveal())
        assertEquals(gridworker.stateDigest(), head.stateDigest())
    }

    steps.step("a photo of the hazard: taken offline, uploaded in its own lane, fetched by the building head") {
        gridworker.sync().setOnline(false)
        val photo = gridworker.photos().takePhoto(hazard.id, CAMERA_JPEG)
        gridworker.sync().setOnline(true)
        assertEquals("image/jpeg", photo.mediaType)
        assertNotNull(photo.position, "the camera's position is kept in the step")
        val thumbnail = photo.thumbnailHash!!
        val listed = gridworker.photos().casePhotos(hazard.id).single()
        assertEquals(photo, listed.attachment)
        assertTrue(listed.pictureHere && listed.thumbnailHere)
        assertEquals(UploadState.Queued, listed.upload!!.state)
        // The stored picture is not the camera's file: its metadata (the camera's serial) is gone.
        val stored = gridworker.photos().attachmentBytes(photo.hash)!!
        assertFalse(String(stored, Charsets.ISO_8859_1).contains("SERIAL-8675309"))
        assertEquals(listOf(BlobRole.THUMBNAIL, BlobRole.PICTURE), gridworker.photos().uploadProgress().map { it.role })

        val seen = CopyOnWriteArrayList<AttachmentProgress>()
        val handle = gridworker.photos().addUploadObserver(object : UploadObserver {
            override fun onUpload(progress: AttachmentProgress) {
                seen.add(progress)
            }
        })
        runBlocking {
            gridworker.sync().syncNow()
            gridworker.photos().setUploadPolicy(UploadPolicy.PAUSED)
            assertEquals(LaneStop.Paused, gridworker.photos().uploadAttachments().stopped)
            assertTrue(gridworker.photos().uploadProgress().all { it.state == UploadState.Paused })
            gridworker.photos().setUploadPolicy(UploadPolicy.UNMETERED_ONLY)
            assertEquals(UploadPolicy.UNMETERED_ONLY, gridworker.photos().uploadPolicy())
            assertEquals(LaneStop.WaitingForUnmetered, gridworker.photos().uploadAttachments().stopped)
            gridworker.photos().setNetworkMetered(false)
            val report = gridworker.photos().uploadAttachments()
            assertEquals(2L, report.completed)
            assertEquals(0L, report.queued)
            assertNull(report.stopped)
        }
        handle.remove()
        val last = seen.last { it.hash == photo.hash }
        assertEquals(UploadState.Uploaded, last.state)
        assertEquals(photo.size, last.sent)
        assertEquals(photo.size, last.total)

        runBlocking {
            head.sync().syncNow()
            val there = head.photos().casePhotos(hazard.id).single()
            assertFalse(there.pictureHere)
            assertNull(there.upload, "not the head's own photo")
            assertNotNull(head.photos().fetchAttachment(thumbnail))
            assertTrue(head.photos().fetchAttachment(photo.hash)!!.contentEquals(stored))
            assertTrue(head.photos().casePhotos(hazard.id).single().pictureHere)
        }
        val bad = assertFailsWith<GridworkException.InvalidInput> { head.photos().attachmentBytes("not-a-hash") }
        assertEquals("hash_hex", bad.field)
    }

    steps.step("a building's and a room's photos, added offline on two phones, are both kept") {
        gridworker.sync().setOnline(false)
        head.sync().setOnline(false)
        val exit = gridworker.photos().addRecordPhoto(RecordKind.BUILDING, building.id, CAMERA_JPEG)
        val inRoom = head.photos().addRecordPhoto(RecordKind.HOUSEHOLD, room.id, CAMERA_JPEG)
        // A building head may photograph a room of their building, not the building itself.
        assertFailsWith<GridworkException.NotAllowed> {
            head.photos().addRecordPhoto(RecordKind.BUILDING, building.id, CAMERA_JPEG)
        }
        assertFailsWith<GridworkException.InvalidInput> {
            gridworker.photos().addRecordPhoto(RecordKind.STATION, station.id, CAMERA_JPEG)
        }
        assertEquals(exit, gridworker.photos().recordPhotos(RecordKind.BUILDING, building.id).single().attachment)
        assertTrue(head.photos().recordPhotos(RecordKind.BUILDING, building.id).isEmpty())
        gridworker.sync().setOnline(true)
        head.sync().setOnline(true)
        runBlocking {
            gridworker.sync().syncNow()
            head.sync().syncNow()
            gridworker.sync().syncNow()
            head.photos().uploadAttachments()
            gridworker.photos().uploadAttachments()
        }
        val seen = head.photos().recordPhotos(RecordKind.BUILDING, building.id).single()
        assertEquals(exit, seen.attachment)
        assertEquals(inRoom, gridworker.photos().recordPhotos(RecordKind.HOUSEHOLD, room.id).single().attachment)
        runBlocking { assertNotNull(head.photos().fetchAttachment(exit.thumbnailHash!!)) }

        gridworker.photos().removeRecordPhoto(RecordKind.BUILDING, building.id, exit.hash)
        runBlocking {
            gridworker.sync().syncNow()
            head.sync().syncNow()
        }
        assertTrue(head.photos().recordPhotos(RecordKind.BUILDING, building.id).isEmpty())
        assertEquals(1, head.photos().recordPhotos(RecordKind.HOUSEHOLD, room.id).size)
    }

    steps.step("an alarm raised by the building head reaches the gridworker through the live wait") {
        runBlocking {
            val waiting = async { gridworker.sync().waitForChanges(20) }
            alarm = head.alarms().raiseAlarm(building.id, "闻到烟味", "fire", null)
            assertEquals(CaseKind.ALARM, alarm.kind)
            assertEquals(CaseState.DISPATCHED, alarm.state)
            assertEquals(station.id, alarm.dispatchedStationId)
            head.sync().syncNow()
            val news = waiting.await()
            assertTrue(news.pulled >= 1L, "pulled ${news.pulled}")
        }
        assertEquals(CaseState.DISPATCHED, gridworker.cases().case(alarm.id).state)
    }

    steps.step("the building head's phone offers no status step, by the server's rule") {
        assertTrue(head.cases().availableActions(alarm.id).isEmpty(), "${head.cases().availableActions(alarm.id)}")
        val ack = head.cases().mayAct(alarm.id, CaseAction.Acknowledge)
        assertFalse(ack.allowed)
        // A stable code for the app's own words; the English sentence for logs.
        assertEquals("head_annotates_only", ack.code)
        assertTrue(ack.args.isEmpty(), "${ack.args}")
        assertTrue(ack.reason!!.contains("status"), ack.reason)
        assertTrue(head.cases().mayAct(alarm.id, CaseAction.Note("已通知住户撤离")).allowed)
        assertTrue(head.mayEdit(room.id).allowed, "a household of their building")
        assertFalse(head.mayDelete(room.id).allowed)
    }

    steps.step("the crew's arrival is recorded and within the target") {
        assertTrue(gridworker.cases().availableActions(alarm.id).contains(CaseStep.ACKNOWLEDGE))
        gridworker.cases().recordCaseEvent(alarm.id, CaseAction.Acknowledge)
        gridworker.cases().recordCaseEvent(alarm.id, CaseAction.EnRoute(null))
        val arrived = gridworker.cases().recordCaseEvent(alarm.id, CaseAction.Arrive(Position(30.2510, 120.1710)))
        assertEquals(CaseState.ON_SCENE, arrived.state)
        val figure = assertNotNull(gridworker.alarms().alarmArrival(alarm.id))
        assertTrue(figure.withinTarget, "arrived in ${figure.minutes} min")
        assertEquals(station.id, figure.stationId)
        val timeline = gridworker.cases().caseTimeline(alarm.id)
        assertEquals(4, timeline.size)
        assertTrue(timeline[0].action is CaseAction.Dispatch)
        assertTrue(timeline.last().action is CaseAction.Arrive)
    }

    steps.step("a step the lifecycle does not allow is refused") {
        val e = assertFailsWith<GridworkException.NotAllowed> {
            gridworker.cases().recordCaseEvent(alarm.id, CaseAction.Dispatch(station.id))
        }
        assertEquals("step_wrong_state", e.code)
        assertEquals(mapOf("kind" to "alarm", "state" to "on_scene", "step" to "dispatch"), e.args)
        assertTrue(e.reason.isNotEmpty())
    }

    steps.step("search, the weekly brief, and the two phones agree after a last sync") {
        runBlocking {
            gridworker.sync().syncNow()
            head.sync().syncNow()
        }
        assertTrue(gridworker.search("梅花碑", 10).any { it.kind == RecordKind.BUILDING && it.id == building.id })
        val brief = gridworker.reports().weeklyBrief(grid.id, today.with(DayOfWeek.MONDAY).toString())
        assertEquals(1L, brief.alarmsOpened)
        assertEquals(0L, brief.alarmsWithoutArrival)
        assertEquals(1L, brief.hazardsFound)
        assertTrue(brief.markdown.isNotEmpty())
        val rate = gridworker.registrations().registrationRate(grid.id)
        assertEquals(1.0, rate.personRate)
        assertEquals(1.0, rate.roomRate)
        assertTrue(gridworker.registrations().unregisteredTenants(grid.id).isEmpty())
        assertEquals(CaseState.ON_SCENE, head.cases().case(alarm.id).state)
        assertEquals(gridworker.stateDigest(), head.stateDigest())
    }

    steps.step("a step the building head's role may not take is refused on the phone, never queued") {
        val e = assertFailsWith<GridworkException.NotAllowed> {
            head.cases().recordCaseEvent(hazard.id, CaseAction.Fix)
        }
        assertEquals("head_annotates_only", e.code)
        assertTrue(e.reason.contains("building head"), e.reason)
        assertEquals(0L, head.sync().pendingCount())
        assertEquals(CaseState.REPORTED, head.cases().case(hazard.id).state)
    }

    steps.step("a change the server refuses is undone on the phone and listed to discard or re-do") {
        // Both record the same new unit offline; the server keeps the first to arrive.
        val first = gridworker.places().createHousehold(Household("", building.id, "2-302", HouseholdKind.RENTAL, null, false))
        val second = head.places().createHousehold(Household("", building.id, "2-302", HouseholdKind.VACANT, null, false))
        runBlocking {
            gridworker.sync().syncNow()
            val report = head.sync().syncNow()
            assertEquals(1L, report.rejected)
            assertEquals(1L, report.reverted)
        }
        assertFailsWith<GridworkException.NotFound> { head.places().household(second.id) }
        assertEquals(HouseholdKind.RENTAL, head.places().household(first.id).kind, "the server's household")
        val refused = head.sync().refusedChanges().single()
        assertEquals(second.id, refused.entityId)
        assertEquals("invalid", refused.code)
        assertTrue(refused.change.contains("unit"), refused.change)
        assertTrue(refused.fields.contains("unit"), "${refused.fields}")
        assertEquals(null, refused.step)
        assertEquals(null, refused.rule, "an invalid value, no permission rule")
        assertTrue(refused.reason.startsWith("a value was refused"), refused.reason)
        // Re-done now, the phone refuses it itself: the unit is taken.
        assertFailsWith<GridworkException.InvalidInput> { head.sync().redoRefused(refused.changeId) }
        assertEquals(1, head.sync().refusedChanges().size)
        head.sync().discardRefused(refused.changeId)
        assertTrue(head.sync().refusedChanges().isEmpty())
        runBlocking {
            gridworker.sync().syncNow()
            head.sync().syncNow()
        }
        assertEquals(gridworker.stateDigest(), head.stateDigest())
    }

    steps.step("lookups by code: a building by its address code, an area by its code, the stations") {
        assertEquals(building.id, gridworker.places().buildingByAddressCode("3301060010010010001")?.id)
        assertNull(gridworker.places().buildingByAddressCode("3301060010010019999"))
        assertEquals(grid.id, gridworker.places().areaByCode("330106001001001")?.id)
        assertNull(gridworker.places().areaByCode("330106001001999"))
        assertTrue(gridworker.places().stations().any { it.id == station.id && it.name == "梅花碑微型消防站" })
    }

    steps.step("long lists come in pages with an opaque cursor; bad limits, cursors and negatives are refused") {
        val before = gridworker.places().householdsOfBuilding(building.id, false, 500, null).items.map { it.unit }
        for (unit in listOf("4-101", "4-102", "4-103", "4-104", "4-105")) {
            gridworker.places().createHousehold(Household("", building.id, unit, HouseholdKind.RENTAL, null, false))
        }
        val units = mutableListOf<String>()
        var cursor: String? = null
        var pages = 0
        do {
            val page = gridworker.places().householdsOfBuilding(building.id, false, 3, cursor)
            assertTrue(page.items.size <= 3)
            units += page.items.map { it.unit }
            cursor = page.nextCursor
            pages++
        } while (cursor != null)
        assertEquals((before + listOf("4-101", "4-102", "4-103", "4-104", "4-105")).sorted(), units.sorted())
        assertEquals(units.size, units.toSet().size, "each once")
        assertEquals((units.size + 2) / 3, pages)
        val badLimit = assertFailsWith<GridworkException.InvalidInput> { gridworker.cases().openCases(0, null) }
        assertEquals("limit", badLimit.field)
        val badCursor = assertFailsWith<GridworkException.InvalidInput> { gridworker.places().buildingsInArea(grid.id, 10, "not-a-cursor") }
        assertEquals("cursor", badCursor.field)
        val negative = assertFailsWith<GridworkException.InvalidInput> { runBlocking { gridworker.sync().waitForChanges(-1) } }
        assertEquals("wait_seconds", negative.field)
        assertEquals("must not be negative", negative.reason)
        assertFailsWith<GridworkException.InvalidInput> { gridworker.registrations().setTenantRetentionDays(-30) }
        // Case states and steps are enums with stable codes to localize by.
        assertEquals("on_scene", caseStateCode(CaseState.ON_SCENE))
        assertEquals("review_assign", caseStepCode(CaseStep.REVIEW_ASSIGN))
        assertEquals(CaseStep.FIX, caseActionStep(CaseAction.Fix))
        runBlocking { assertEquals(5L, gridworker.sync().syncNow().pushed) }
    }

    steps.step("records print ID numbers and phones masked (toString), reveal() gives them") {
        val resident = Resident("", room.id, "李娜", Sensitive("11010519491231002X"), Sensitive("13700000000"), listOf(), null, false)
        val printed = resident.toString()
        assertFalse(printed.contains("19491231") || printed.contains("13700000000"), printed)
        assertTrue(printed.contains("1101**********002X"), printed)
        assertEquals("11010519491231002X", resident.idNumber?.reveal())
        assertEquals(Sensitive("13700000000"), resident.phone, "equal by value")
        val household = gridworker.places().household(room.id)
        assertFalse(household.toString().contains(household.phone!!.reveal()), household.toString())
        assertEquals(tenant.idNumber?.reveal(), gridworker.residents().resident(tenant.id).idNumber?.reveal())
    }

    steps.step("syncNow awaited on a one-thread dispatcher leaves it free; observers run on their own thread") {
        // A grid of 600 more rooms from the operator, bootstrapped by a new phone.
        val big = operator.places().createBuilding(
            Building("", "3301060010010010002", "梅花碑5号", BuildingKind.RENTAL, grid.id, null, null, station.id, null),
        )
        repeat(600) { i ->
            operator.places().createHousehold(Household("", big.id, "${1 + i / 100}-${101 + i % 100}", HouseholdKind.RENTAL, null, false))
        }
        runBlocking { assertEquals(601L, operator.sync().syncNow().pushed) }
        val fresh = GridworkClient.open(File(scratch, "bench.db").path, server.url, null)
        val observerThreads = CopyOnWriteArrayList<String>()
        fresh.sync().addSyncObserver(object : SyncObserver {
            override fun onState(state: SyncState) {
                observerThreads.add(Thread.currentThread().name)
            }

            override fun onProgress(progress: SyncProgress) {
                observerThreads.add(Thread.currentThread().name)
            }
        })
        val executor = Executors.newSingleThreadExecutor { Thread(it, "app-main") }
        val main = executor.asCoroutineDispatcher()
        try {
            runBlocking(main) {
                fresh.enroll(server.enrollmentCode("调度员", "admin", null), "bench")
                var longest = 0L
                var ticks = 0
                var running = true
                val ticker = launch {
                    var last = System.nanoTime()
                    while (running) {
                        delay(1)
                        val now = System.nanoTime()
                        longest = maxOf(longest, now - last)
                        ticks++
                        last = now
                    }
                }
                delay(5)
                val report = fresh.sync().syncNow()
                running = false
                ticker.join()
                assertTrue(report.snapshotRecords >= 600L, "${report.snapshotRecords}")
                assertTrue(ticks > 0, "the main thread ran other work while the sync was under way")
                println("        bootstrap of ${report.snapshotRecords} records in ${report.durationMs} ms: " +
                    "the awaiting thread's longest stall ${"%.1f".format(longest / 1e6)} ms ($ticks ticks)")
            }
        } finally {
            main.close()
        }
        // JNA names the native thread it attaches (gridwork-observers) "Thread-N": what counts
        // is that no callback ran on the thread that awaited the sync.
        assertTrue(observerThreads.isNotEmpty())
        assertTrue(observerThreads.none { it == "app-main" }, "$observerThreads")
        fresh.shutdown()
    }

    steps.step("an observer that throws is logged and sync goes on; a removed one is not called") {
        gridworker.sync().addSyncObserver(object : SyncObserver {
            override fun onState(state: SyncState) = throw IllegalStateException("the screen is gone")
            override fun onProgress(progress: SyncProgress) = throw IllegalStateException("the screen is gone")
        })
        val removed = RecordingObserver()
        val handle = gridworker.sync().addSyncObserver(removed)
        handle.remove()
        val before = gridworkerSync.states.size
        runBlocking {
            gridworker.sync().syncNow()
            gridworker.sync().syncNow()
        }
        assertEquals(SyncState.Idle, gridworker.sync().syncState())
        assertEquals(before + 4, gridworkerSync.states.size, "the other observer heard both runs")
        assertEquals(SyncState.Idle, gridworkerSync.states.last())
        assertTrue(removed.states.isEmpty())
    }

    steps.step("the Flow adapters: sync states, and changes by record kind") {
        runBlocking {
            val states = Channel<SyncState>(Channel.UNLIMITED)
            val collecting = launch(Dispatchers.Default) { gridworker.sync().syncStates().collect { states.send(it) } }
            assertEquals(SyncState.Idle, states.receive(), "the current state first")
            gridworker.sync().setOnline(false)
            assertEquals(SyncState.Offline, states.receive())
            gridworker.sync().setOnline(true)
            assertEquals(SyncState.Idle, states.receive())
            collecting.cancel()

            val households = Channel<Unit>(Channel.UNLIMITED)
            val watching = launch(Dispatchers.Default) { gridworker.sync().changesOf(RecordKind.HOUSEHOLD).collect { households.send(it) } }
            // The collector registers when it starts: write until it has seen a change.
            var seen: Unit? = null
            var n = 0
            while (seen == null && n < 50) {
                n++
                gridworker.places().updateHousehold(gridworker.places().household(room.id).copy(phone = Sensitive("1380000${1000 + n}")))
                seen = withTimeoutOrNull(200) { households.receive() }
            }
            assertNotNull(seen, "a household change was announced")
            watching.cancel()
        }
    }

    steps.step("one client per store; shutdown stops a waiting call and frees the store") {
        val path = File(scratch, "spare.db").path
        val spare = GridworkClient.open(path, server.url, null)
        assertFailsWith<GridworkException.StoreInUse> { GridworkClient.open(path, server.url, null) }
        runBlocking {
            spare.enroll(server.enrollmentCode("李强", "admin", null), "spare")
            spare.sync().syncNow()
            val waiting = async(Dispatchers.IO) { runCatching { spare.sync().waitForChanges(30) } }
            delay(300)
            spare.shutdown()
            val result = waiting.await()
            assertTrue(result.exceptionOrNull() is GridworkException.Closed, "$result")
        }
        assertFailsWith<GridworkException.Closed> { spare.sync().pendingCount() }
        GridworkClient.open(path, server.url, null).use { again -> assertEquals(0L, again.sync().pendingCount()) }
    }

    steps.step("setOnline(false) stops a waiting call; syncNow refuses until online again") {
        runBlocking {
            val waiting = async(Dispatchers.IO) { runCatching { gridworker.sync().waitForChanges(30) } }
            delay(300)
            gridworker.sync().setOnline(false)
            assertTrue(waiting.await().exceptionOrNull() is GridworkException.Offline)
            assertFailsWith<GridworkException.Offline> { gridworker.sync().syncNow() }
            assertEquals(SyncState.Offline, gridworker.sync().syncState())
            gridworker.sync().setOnline(true)
            gridworker.sync().syncNow()
            assertEquals(SyncState.Idle, gridworker.sync().syncState())
        }
    }

    steps.step("open trusts a private CA given as PEM; without it the server's certificate is refused") {
        val tlsDir = File(System.getenv("GRIDWORK_TLS_DIR") ?: error("set GRIDWORK_TLS_DIR"))
        val tlsScratch = File(scratch, "tls").apply { mkdirs() }
        TestServer(server.binary, tlsScratch, tlsDir).use { tls ->
            assertTrue(tls.url.startsWith("https://"), tls.url)
            val ca = File(tlsDir, "ca.pem").readText()
            GridworkClient.open(File(tlsScratch, "trusting.db").path, tls.url, null, ca).use { phone ->
                runBlocking {
                    assertEquals(Role.ADMIN, phone.enroll(tls.enrollmentCode("管理员", "admin", null), "tls").role)
                    phone.sync().syncNow()
                }
            }
            GridworkClient.open(File(tlsScratch, "untrusting.db").path, tls.url, null).use { phone ->
                val refused = assertFailsWith<GridworkException.Offline> {
                    runBlocking { phone.enroll(tls.enrollmentCode("王芳", "admin", null), "untrusting") }
                }
                assertTrue(refused.reason.contains("certificate"), refused.reason)
            }
            assertFailsWith<GridworkException.InvalidInput> {
                GridworkClient.open(File(tlsScratch, "bad.db").path, tls.url, null, "not a certificate")
            }
        }
    }
}

/** A small camera JPEG (24×16 px) whose EXIF carries a GPS position, a time, an orientation and
 * a camera serial number ("SERIAL-8675309"). */
val CAMERA_JPEG: ByteArray = (
    "ffd8ffe000104a46494600010200000100010000fffe00176f776e65723a2053455249414c2d38363735333039ffe101" +
    "0c4578696600004d4d002a000000080004010f0002000000090000009e01120003000000010006000087690004000000" +
    "010000003e8825000400000001000000680000000000039003000200000014000000a89011000200000007000000bca4" +
    "3100020000000f000000c400000000000400010002000000024e0000000002000500000003000000d400030002000000" +
    "02450000000004000500000003000000ec00000000534e4f4f5043414d0000323032363a30353a30342030393a33303a" +
    "3135002b30383a3030000053455249414c2d3836373533303900000000001e000000010000000f000000010000002400" +
    "000001000000780000000100000009000000010000000000000001ffc00011080010001803011100021101031101ffdb" +
    "0043000302020302020303030304030304050805050404050a070706080c0a0c0c0b0a0b0b0d0e12100d0e110e0b0b10" +
    "16101113141515150c0f171816141812141514ffdb00430103040405040509050509140d0b0d14141414141414141414" +
    "14141414141414141414141414141414141414141414141414141414141414141414141414141414ffc4001f00000105" +
    "01010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d0102" +
    "0300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a" +
    "3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92" +
    "939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4" +
    "e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc4001f0100030101010101010101010000000000000102030405060708090a" +
    "0bffc400b51100020102040403040705040400010277000102031104052131061241510761711322328108144291a1b1" +
    "c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a" +
    "636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6" +
    "b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002" +
    "110311003f00fcb48e1ad121464598e1ade28e98c8b31c15d11474c6432382b9228f0e322cc70d6e91d319166386b78a" +
    "3a2323ffd9"
).chunked(2).map { it.toInt(16).toByte() }.toByteArray()
