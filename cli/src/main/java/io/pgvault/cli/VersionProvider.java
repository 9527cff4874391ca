package io.pgvault.cli;

import picocli.CommandLine;

/** Reads the version Maven wrote into the jar manifest. */
public final class VersionProvider implements CommandLine.IVersionProvider {

    @Override
    public String[] getVersion() {
        String version = PgvaultCommand.class.getPackage().getImplementationVersion();
        return new String[] {"pgvault " + (version == null ? "(development build)" : version)};
    }
}
