// The gridwork Android library module: an AAR with the Rust core built by cargo-ndk for
// arm64-v8a, armeabi-v7a and x86_64 in jniLibs, and the Kotlin bindings generated from that
// library by uniffi-bindgen at build time (never checked in, so they always match the library).
// Needs the Android SDK + NDK, `cargo install cargo-ndk` and the three Rust Android targets;
// see docs/mobile.md.
plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
}

val workspace = rootDir.parentFile
val jniDir = layout.buildDirectory.dir("rust/jniLibs")
val bindingsDir = layout.buildDirectory.dir("generated/uniffi/kotlin")
val abis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")

android {
    namespace = "org.gridwork"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
        ndk { abiFilters += abis }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    sourceSets["main"].jniLibs.srcDir(jniDir)
    sourceSets["main"].java.srcDir(bindingsDir)
}

kotlin { jvmToolchain(17) }

dependencies {
    // uniffi's Kotlin talks to the library through JNA; the @aar flavour carries its native parts.
    implementation("net.java.dev.jna:jna:5.14.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.9.0")
}

// cargo-ndk builds libgridwork_ffi.so for every ABI into build/rust/jniLibs/<abi>/.
val cargoNdk by tasks.registering(Exec::class) {
    workingDir = workspace
    val args = mutableListOf("cargo", "ndk")
    abis.forEach { args += listOf("-t", it) }
    args += listOf("-o", jniDir.get().asFile.path, "build", "--release", "-p", "gridwork-ffi")
    commandLine(args)
}

// The Kotlin sources come from the built library itself (host build of the generator).
val generateBindings by tasks.registering(Exec::class) {
    dependsOn(cargoNdk)
    workingDir = workspace
    commandLine(
        "cargo", "run", "--release", "-p", "gridwork-ffi", "--bin", "uniffi-bindgen", "--",
        "generate", "--no-format", "--language", "kotlin",
        "--library", jniDir.get().file("arm64-v8a/libgridwork_ffi.so").asFile.path,
        "--out-dir", bindingsDir.get().asFile.path,
    )
}

tasks.named("preBuild") { dependsOn(generateBindings) }
