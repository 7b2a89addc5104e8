
# Binder: repo2docker builds binder/Dockerfile (this file's stages plus this
# one) with the repository as its context, and BinderHub starts the server with
# jupyterhub-singleuser, passing its own token; the entry point runs what it is
# given. Generated: edit docker/Dockerfile or docker/binder.Dockerfile, then
# `make binder/Dockerfile`.
FROM cpu AS binder
USER root
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jupyterhub >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
USER ${NB_USER}
WORKDIR /home/${NB_USER}/vggnb
