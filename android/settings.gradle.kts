// The gridwork Android library as a stand-alone Gradle build (include it in an app's build with
// `includeBuild("path/to/gridwork/android")`, or copy the module). Not buildable on the gridwork CI
// machines (no Android SDK or NDK there): see docs/mobile.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "gridwork-android"
