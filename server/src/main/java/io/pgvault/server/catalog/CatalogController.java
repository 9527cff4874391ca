package io.pgvault.server.catalog;

import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.pgvault.server.cluster.ClusterService;

import java.io.IOException;
import java.util.List;

/** {@code /v1/catalog}: rebuild the catalog from the repository; list what it indexes. */
@Controller("/v1")
@ExecuteOn(TaskExecutors.BLOCKING)
public class CatalogController {

    private final CatalogRebuilder rebuilder;
    private final Catalog catalog;
    private final ClusterService clusters;

    public CatalogController(CatalogRebuilder rebuilder, Catalog catalog, ClusterService clusters) {
        this.rebuilder = rebuilder;
        this.catalog = catalog;
        this.clusters = clusters;
    }

    @Post("/catalog/rebuild")
    public CatalogRebuilder.Summary rebuild() throws IOException {
        return rebuilder.rebuild();
    }

    @Get("/clusters/{cluster}/wal")
    public List<WalRow> listWal(String cluster) {
        return catalog.listWal(clusters.require(cluster).id());
    }
}
