# Usher in a container. Build:  docker build -t usher .
# Run:    docker run --rm -p 6432:5432 -e DATABASE_URL=postgres://app:secret@db:5432/appdb usher
# Without arguments it is configured from the environment (docs/migrating-from-pgbouncer.md);
# with a pgbouncer.ini mounted, pass its path: docker run ... -v ./pgbouncer.ini:/etc/usher/pgbouncer.ini usher /etc/usher/pgbouncer.ini
# See docs/deployment.md. (Not built by this repository's CI, which has no Docker: .ci/dist-check says so.)

# The distribution (-Pdist): usher.jar, bin/usher and a jlink'd Java runtime with only the modules Usher needs.
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn .mvn
COPY mvnw pom.xml ./
RUN ./mvnw -q -B dependency:go-offline -Pdist || true
COPY src src
COPY bin bin
COPY README.md ./
COPY docs docs
COPY examples examples
COPY deploy deploy
RUN ./mvnw -q -B -Pdist package -Dmaven.test.skip=true && mv target/dist/usher-* /opt/usher

# No JRE in the image: the distribution brings its own runtime. bash: for the HEALTHCHECK below.
FROM debian:12-slim
RUN groupadd --system --gid 999 usher && useradd --system --uid 999 --gid usher --home-dir /opt/usher --shell /usr/sbin/nologin usher
COPY --from=build /opt/usher /opt/usher
# the start-up archive (AppCDS) for this path: bin/usher records it on its first run
RUN /opt/usher/bin/usher --version
USER usher
WORKDIR /opt/usher
# 5432: the port used without a config file (as the edoburu/pgbouncer image); 6432: PgBouncer's usual one;
# 9127: USHER_HTTP_LISTEN (metrics, /health, /ready; no authentication: publish it only where scrapers reach it).
ENV USHER_HTTP_LISTEN=0.0.0.0:9127
EXPOSE 5432 6432 9127
# /health on the port of USHER_HTTP_LISTEN (set it empty to switch HTTP off; the check then reports unhealthy).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "p=${USHER_HTTP_LISTEN##*:}; exec 3<>/dev/tcp/127.0.0.1/${p:-9127} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
# Exec form, and bin/usher execs the JVM: Usher is PID 1 and gets SIGTERM (drain clients, exit 0) and SIGHUP (reload) itself.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/usher/bin/usher"]
