import BerthCore
import Foundation

/// Starting an instance: a slot, the engine's start, the readiness probe. The engine calls
/// run on tasks; their results come back to the actor as events, which the machine judges
/// by generation (a result about an instance no longer current changes nothing).
extension ContainerController {
    /// Who the next instance is: a new id and the class's current spec; or, when the last
    /// start crashed and its container is parked for this spec, that same instance again.
    func nextLaunch() -> ControllerStateMachine.Launch {
        let (spec, settings) = specBox.current
        if let parked = owner.parked(objectID), parked.deploymentID == spec.deploymentID, parked.fingerprint == spec.fingerprint {
            return .init(
                instanceID: parked.instanceID, deploymentID: spec.deploymentID, fingerprint: spec.fingerprint,
                created: parked.created, requested: clock.now, settings: settings
            )
        }
        return .init(
            instanceID: Self.randomHex(32), deploymentID: spec.deploymentID, fingerprint: spec.fingerprint,
            created: Date(), requested: clock.now, settings: settings
        )
    }

    func launchStart(_ g: Int) {
        guard let instance = machine.instance(g) else { return }
        let options = nextStartOptions
        nextStartOptions = StartOptions()
        lastSettings = instance.launch.settings
        machine.sleepAfter = settings.sleepAfter
        if let reason = specBox.value.disabledReason {
            startError = BerthError(.unavailable, reason)
            report(instance, .starting)
            report(instance, .failed(message: reason))
            perform(machine.startFailed(generation: g, launch: nextLaunch()))
            return
        }
        // A refused start is counted, not recorded: an instance that never existed has no
        // history, and a client sending many names must not grow the state store.
        guard budget.tryAcquire() else {
            owner.refusedStarts.add(1, ordering: .relaxed)
            startError = BerthError(
                .capacityExceeded,
                "There is no Container instance available at this time. This is likely because you have reached your max concurrent instance count (max_instances = \(budget.limit) for \(settings.className)); try again shortly."
            )
            perform(machine.startFailed(generation: g, launch: nextLaunch()))
            return
        }
        guard machine.slotAcquired(generation: g) else {
            budget.release()
            return
        }
        report(instance, .starting)
        let spec = makeSpec(instance.launch, options: options)
        customStartGeneration = options.isEmpty ? nil : g
        // The container of the last crashed start, when this start is that instance again.
        var reusable = owner.takeParked(objectID)
        if let other = reusable, other.instanceID != instance.launch.instanceID || !options.isEmpty {
            reusable = nil
            Task { [runtime] in await runtime.removeInstance(other.containerID) }
        }
        let parked = reusable
        let (runtime, limit, pacer) = (self.runtime, settings.instanceGetTimeout, owner.pacer)
        Task {
            do throws(BerthError) {
                // The deadline counts from the engine call: time in Berth's own queue is not the engine's.
                let running = try await pacer.run { () async throws(BerthError) -> RunningInstance in
                    guard await self.isStarting(g) else {
                        if let parked { await runtime.removeInstance(parked.containerID) }
                        throw BerthError(.startFailed, "Failed to start container: it was stopped before its turn to start")
                    }
                    return try await withDeadline(limit, "getting a container instance") {
                        try await Self.startOrRestart(runtime, spec: spec, parked: parked)
                    }
                }
                self.instanceCreated(g, running)
            } catch {
                // A container that exited at once may wait, stopped, for the next attempt.
                let kept = (error.cause as? InstanceExited)?.containerID.flatMap { self.park(g, containerID: $0) ? $0 : nil }
                // A start cut off by the deadline may still have created the container.
                let instanceID = instance.launch.instanceID
                for leftover in (try? await runtime.listInstances(labels: ["\(BerthLabel.instance)=\(instanceID)"])) ?? [] where leftover.containerID != kept {
                    await runtime.removeInstance(leftover.containerID)
                }
                self.startFailed(g, error)
            }
        }
    }

    /// Starts the parked container again when there is one (a crash loop's retry: one engine
    /// call); a new container when there is none or it cannot start again (it was removed).
    nonisolated static func startOrRestart(
        _ runtime: any ContainerRuntime, spec: InstanceSpec, parked: ParkedContainer?
    ) async throws(BerthError) -> RunningInstance {
        if let parked {
            do {
                return try await runtime.restartInstance(parked.containerID, spec: spec)
            } catch where !(error.cause is InstanceExited) {
                await runtime.removeInstance(parked.containerID)
            }
        }
        return try await runtime.startInstance(spec)
    }

    /// Parks the stopped container of `g`, whose start just failed because it exited, for
    /// the next attempt; false when it is not to be kept (the caller removes it).
    func park(_ g: Int, containerID: String) -> Bool {
        guard let instance = machine.instance(g), case .starting = machine.phase, customStartGeneration != g else { return false }
        let launch = instance.launch
        return owner.park(objectID, now: clock.now, ParkedContainer(
            containerID: containerID, instanceID: launch.instanceID, deploymentID: launch.deploymentID,
            fingerprint: launch.fingerprint, created: launch.created
        ))
    }

    /// Whether `g` is still the start in progress (not stopped while it waited for its turn).
    private func isStarting(_ g: Int) -> Bool {
        guard case .starting(let instance) = machine.phase else { return false }
        return instance.generation == g
    }

    /// The engine created the container of `g`.
    private func instanceCreated(_ g: Int, _ running: RunningInstance) {
        hadContainer = true
        watchExit(g, containerID: running.containerID)
        guard machine.instance(g) != nil else {
            // Nothing wants it any more (cannot happen today: only its own events end it).
            Task { [runtime] in await runtime.removeInstance(running.containerID) }
            return
        }
        perform(machine.instanceCreated(generation: g, running: running))
    }

    /// Waits for the ports of `g`, then moves to the container's own address if it answers.
    func launchProbe(_ g: Int) {
        guard let instance = machine.instance(g), let running = instance.running else { return }
        let started = instance.launch.requested
        let (probe, settings) = (self.probe, self.settings)
        probeTask = Task {
            do throws(BerthError) {
                for port in settings.portsToCheck {
                    guard let endpoint = running.endpoints[port] else { continue }
                    try await probe.waitUntilReady(endpoint, containerPort: port, pingEndpoint: settings.pingEndpoint, timeout: settings.portReadyTimeout)
                }
                let endpoints = await Self.directEndpoints(running, probe: probe, settings: settings)
                self.probed(g, endpoints: endpoints, started: started)
            } catch {
                self.startFailed(g, error)
            }
        }
    }

    /// The endpoints to proxy to: the container's own address when it answers from here.
    nonisolated static func directEndpoints(_ running: RunningInstance, probe: ReadinessProbe, settings: ContainerSettings) async -> [Int: Endpoint] {
        await probe.preferDirect(
            running, checkedPorts: settings.portsToCheck.filter { running.endpoints[$0] != nil }, pingEndpoint: settings.pingEndpoint
        )
    }

    private func probed(_ g: Int, endpoints: [Int: Endpoint], started: ContinuousClock.Instant) {
        probeTask = nil
        guard let instance = machine.instance(g) else { return }
        let elapsed = started.duration(to: clock.now)
        if case .starting = machine.phase {
            logger.info(instance.adopted ? "adopted container answers" : "container healthy", metadata: [
                "instance": "\(instance.launch.instanceID)", "cold_start_ms": "\(elapsed.milliseconds)",
            ])
            failure = nil
            report(instance, instance.adopted ? .adopted : .healthy(coldStart: elapsed))
            owner.clearFailedStarts(objectID)
        }
        perform(machine.startSucceeded(generation: g, endpoints: endpoints, now: clock.now))
    }

    /// The start of `g` failed; when it is still the current start, the waiters learn why.
    private func startFailed(_ g: Int, _ error: BerthError) {
        if g == machine.generation { probeTask = nil }
        guard let instance = machine.instance(g) else { return }
        if instance.adopted, case .starting = machine.phase {
            logger.warning("an adopted container does not answer; replaced", metadata: [
                "instance": "\(instance.launch.instanceID)", "error": "\(error.message)",
            ])
            perform(machine.adoptionFailed(generation: g, restart: !waiters.isEmpty, launch: nextLaunch()))
            return
        }
        if case .starting = machine.phase {
            // Refusals keep their own code and text; every other failure is a start failure,
            // in Cloudflare's words.
            let kept = error.code == .startFailed || error.code == .capacityExceeded
            var message = kept ? error.message : "Failed to start container: \(error.message)"
            if error.code == .engineUnavailable {
                message = "Failed to start container: the container engine is not answering (\(error.message)); try again shortly"
            }
            var retryAfter: Int?
            if Self.isContainerFailure(error, created: instance.running != nil) {
                let exitCode = (error.cause as? InstanceExited)?.exitCode
                let (next, seconds) = noteFailedStart(exitCode: exitCode, reason: "the start failed (\(error.message))")
                message += " (\(next))"
                retryAfter = seconds
            }
            // Refusals and an engine that does not answer are 503s: waiting helps.
            let code: BerthError.Code = error.code == .capacityExceeded || error.code == .engineUnavailable ? error.code : .startFailed
            startError = BerthError(code, message, cause: error)
            // A crash's 500 says when the next start may be; an engine outage's 503 says 5 s.
            startError?.retryAfterSeconds = code == .engineUnavailable ? 5 : retryAfter
            logger.warning("start failed", metadata: ["error": "\(message)"])
            if error.code != .capacityExceeded { failure = (message, Date()) }
            report(instance, .failed(message: message))
        }
        perform(machine.startFailed(generation: g, launch: nextLaunch()))
    }

    func makeSpec(_ launch: ControllerStateMachine.Launch, options: StartOptions) -> InstanceSpec {
        let settings = launch.settings.value
        let applicationID = ObjectID.fromName(settings.containerName, className: "application", app: settings.app).hex
        // Secrets and env_vars share one namespace (a name in both is refused at deploy); a
        // start's own envVars, set by code, win over both.
        var environment = settings.envVars.merging(settings.secrets) { $1 }.merging(options.envVars) { $1 }
        let platform: [String: String] = [
            "DEPLOYMENT_ID": launch.instanceID, "DURABLE_OBJECT_ID": objectID.hex, "APPLICATION_ID": applicationID,
            "LOCATION": settings.location, "REGION": settings.location, "COUNTRY_A2": "XX",
        ]
        for (key, value) in platform {
            environment["CLOUDFLARE_\(key)"] = value
        }
        environment["BERTH_INSTANCE_ID"] = launch.instanceID
        environment["BERTH_OBJECT_ID"] = objectID.hex
        environment["BERTH_APPLICATION_ID"] = applicationID
        environment["BERTH_LOCATION"] = settings.location
        environment["BERTH_REGION"] = settings.location
        if let name = objectID.name { environment["BERTH_OBJECT_NAME"] = name }
        var labels = settings.labels.merging(options.labels) { $1 }
        labels[BerthLabel.app] = settings.app
        labels[BerthLabel.className] = settings.className
        labels[BerthLabel.object] = objectID.hex
        labels[BerthLabel.instance] = launch.instanceID
        labels[BerthLabel.deployment] = launch.deploymentID
        labels[BerthLabel.fingerprint] = launch.fingerprint
        if let name = objectID.name { labels[BerthLabel.objectName] = name }
        let ports = Array(Set(settings.portsToCheck + settings.exposedPorts + (settings.defaultPort.map { [$0] } ?? []))).sorted()
        return InstanceSpec(
            image: settings.image, environment: environment, entrypoint: options.entrypoint ?? settings.entrypoint,
            labels: labels, ports: ports, enableInternet: options.enableInternet ?? settings.enableInternet,
            memoryBytes: Int64(settings.instanceType.memoryMiB) << 20,
            nanoCPUs: Int64(settings.instanceType.vcpu * 1_000_000_000),
            isolation: settings.isolation
        )
    }

    static func randomHex(_ count: Int) -> String {
        Hex.random(bytes: count / 2)
    }
}
