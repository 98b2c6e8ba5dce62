# Usher in a container. Build:  docker build -t usher .
# Run:    docker run --rm -p 6432:5432 -e DATABASE_URL=postgres://app:secret@db:5432/appdb usher
# Without arguments it is configured from the environment (docs/migrating-from-pgbouncer.md);
# with a pgbouncer.ini mounted, pass its path: docker run ... -v ./pgbouncer.ini:/etc/usher/pgbouncer.ini usher /etc/usher/pgbouncer.ini
# (Not built in this repository's CI: no Docker there. Kept deliberately simple.)

FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn .mvn
COPY mvnw pom.xml ./
COPY src src
RUN ./mvnw -q -B package -DskipTests

FROM eclipse-temurin:17-jre
RUN groupadd --system usher && useradd --system --gid usher --home-dir /opt/usher --shell /usr/sbin/nologin usher
COPY --from=build /src/target/usher.jar /opt/usher/target/usher.jar
COPY bin/usher /opt/usher/bin/usher
RUN chmod 0755 /opt/usher/bin/usher
USER usher
WORKDIR /opt/usher
# 5432: the port used without a config file (as the edoburu/pgbouncer image); 6432: PgBouncer's usual one;
# 9127: --http-listen / USHER_HTTP_LISTEN (metrics, /health, /ready), off unless set.
EXPOSE 5432 6432 9127
# bin/usher execs the JVM, so Usher is PID 1 and gets SIGTERM (drain clients, exit 0) and SIGHUP (reload) itself.
ENTRYPOINT ["/opt/usher/bin/usher"]
