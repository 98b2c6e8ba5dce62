package io.usher.testing;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * {@code @ExtendWith(SharedPostgresExtension.class)}: starts {@link PostgresCluster#shared()} before the class and
 * injects it into {@code PostgresCluster} parameters. The cluster is put in the JUnit root store, which closes it
 * when the whole test run ends (the shutdown hook covers runs that never get there).
 */
public final class SharedPostgresExtension implements BeforeAllCallback, ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(SharedPostgresExtension.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        shared(context);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == PostgresCluster.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return shared(context);
    }

    private static PostgresCluster shared(ExtensionContext context) {
        PostgresCluster cluster = PostgresCluster.shared();
        // AutoCloseable values are closed when their store (here: the root, at the end of the run) is closed.
        // Keyed by the instance, so a replacement shared cluster (after someone closed one) is registered too.
        context.getRoot().getStore(NAMESPACE).getOrComputeIfAbsent(cluster, key -> cluster);
        return cluster;
    }
}
