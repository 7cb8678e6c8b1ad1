/**
 * Kotlin Flow adapters over the generated gridwork bindings (ADR 0028), on the client's
 * `SyncService` (`client.sync()`, ADR 0050): the sync state, sync progress and the kinds of
 * record changed as cold flows. Each collector registers its own observer when it starts and
 * removes it (its `ObserverHandle`) when it is cancelled. Values are sent from the client's
 * `gridwork-observers` thread; collect them on any dispatcher (the flows are conflated where
 * only the latest value matters).
 *
 * Compiled with the generated code: in the Android module, and by scripts/test-bindings.sh.
 */
package org.gridwork

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.filter
import kotlinx.coroutines.flow.map

/** The sync state: the current one first, then each change, conflated. */
fun SyncService.syncStates(): Flow<SyncState> = callbackFlow {
    val handle = addSyncObserver(object : SyncObserver {
        override fun onState(state: SyncState) {
            trySend(state)
        }

        override fun onProgress(progress: SyncProgress) {}
    })
    trySend(syncState())
    awaitClose {
        handle.remove()
        handle.close()
    }
}.conflate().distinctUntilChanged()

/** Progress of the long steps of sync (bootstrap, push, pull), conflated. */
fun SyncService.syncProgress(): Flow<SyncProgress> = callbackFlow {
    val handle = addSyncObserver(object : SyncObserver {
        override fun onState(state: SyncState) {}

        override fun onProgress(progress: SyncProgress) {
            trySend(progress)
        }
    })
    awaitClose {
        handle.remove()
        handle.close()
    }
}.conflate()

/** The kinds of record changed by each committed change (local or synced), none lost. */
fun SyncService.recordChanges(): Flow<List<RecordKind>> = callbackFlow {
    val handle = addChangeObserver(object : ChangeObserver {
        override fun onChanges(kinds: List<RecordKind>) {
            trySend(kinds)
        }
    })
    awaitClose {
        handle.remove()
        handle.close()
    }
}.buffer(kotlinx.coroutines.channels.Channel.UNLIMITED)

/** Emits once per committed change touching any of [kinds]: a screen re-queries then. */
fun SyncService.changesOf(vararg kinds: RecordKind): Flow<Unit> =
    recordChanges().filter { changed -> changed.any { it in kinds } }.map { }
