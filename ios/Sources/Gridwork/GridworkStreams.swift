// Swift concurrency adapters over the generated gridwork bindings (ADR 0028), on the client's
// `SyncService` (`client.sync()`, ADR 0050): the sync state, sync progress and the kinds of
// record changed as `AsyncStream`s. Each stream registers its own
// observer and removes it (its `ObserverHandle`) when the stream ends or its task is cancelled.
// Values come from the client's `gridwork-observers` thread.
//
// Compiled with the generated code: in the Swift package in ios/, and by scripts/test-bindings.sh.
import Foundation

/// Forwards the sync observer's calls to closures (a `Sendable` class, as the bindings need).
final class SyncObserverClosures: SyncObserver, @unchecked Sendable {
    private let state: @Sendable (SyncState) -> Void
    private let progress: @Sendable (SyncProgress) -> Void

    init(state: @escaping @Sendable (SyncState) -> Void, progress: @escaping @Sendable (SyncProgress) -> Void) {
        self.state = state
        self.progress = progress
    }

    func onState(state: SyncState) { self.state(state) }
    func onProgress(progress: SyncProgress) { self.progress(progress) }
}

/// Forwards the change observer's calls to a closure.
final class ChangeObserverClosure: ChangeObserver, @unchecked Sendable {
    private let changed: @Sendable ([RecordKind]) -> Void

    init(_ changed: @escaping @Sendable ([RecordKind]) -> Void) {
        self.changed = changed
    }

    func onChanges(kinds: [RecordKind]) { changed(kinds) }
}

extension SyncService {
    /// The sync state: the current one first, then each change (the newest kept when the
    /// consumer is slow).
    public func syncStates() -> AsyncStream<SyncState> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let handle = addSyncObserver(observer: SyncObserverClosures(
                state: { continuation.yield($0) },
                progress: { _ in }))
            continuation.yield(syncState())
            continuation.onTermination = { _ in handle.remove() }
        }
    }

    /// Progress of the long steps of sync (the newest kept when the consumer is slow).
    public func syncProgress() -> AsyncStream<SyncProgress> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let handle = addSyncObserver(observer: SyncObserverClosures(
                state: { _ in },
                progress: { continuation.yield($0) }))
            continuation.onTermination = { _ in handle.remove() }
        }
    }

    /// The kinds of record changed by each committed change (local or synced), none lost.
    public func recordChanges() -> AsyncStream<[RecordKind]> {
        AsyncStream { continuation in
            let handle = addChangeObserver(observer: ChangeObserverClosure { continuation.yield($0) })
            continuation.onTermination = { _ in handle.remove() }
        }
    }
}
